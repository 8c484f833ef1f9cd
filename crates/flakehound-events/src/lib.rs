//! The one way flakehound's long-running engines (`run`'s wrapper, `hunt`, `diagnose`,
//! `polluter`, `bisect`) say what they are doing while they do it.
//!
//! An engine takes a [`Sink`] (`&mut dyn FnMut(&Event)`) and calls it at each step: it starts
//! ([`EventKind::Started`], with the size of its plan), an execution starts and finishes, a test
//! result matters (a failure, a pass on retry), a retry is scheduled, an experiment is decided,
//! a candidate step of a bisection ends, something deserves a warning, and it finishes
//! ([`EventKind::Finished`], with a one-line summary). Engines never print: the binary owns one
//! renderer per mode (a progress bar on a terminal, plain lines otherwise, JSON lines with
//! `--events-json FILE`), as nextest's reporter is separate from its runner.
//!
//! Why a crate of its own and not a module of `flakehound-model`: the model is the vocabulary
//! of stored evidence and of results (what the store and `--json` outputs keep stable), while
//! events are transient run-time plumbing with their own, looser compatibility rules (a new
//! variant is not a schema change of anything stored). It depends on serde only, so every
//! engine can take it without pulling anything else in.
//!
//! Serialised (one JSON object a line), an event is flat: `{"at":1.25,"event":"started",
//! "engine":"hunt",...}`; `at` is seconds since the engine started, `event` the kind in
//! kebab-case, the rest the kind's fields.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// What an engine reports to (the binary's renderer, a test's recorder).
pub type Sink<'a> = &'a mut dyn FnMut(&Event);

/// A sink that drops every event (for callers with no display).
pub fn ignore(_: &Event) {}

/// One thing an engine did, at a time since it started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Seconds since the engine started.
    pub at: f64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The engine that reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// `flakehound run`: the wrapper with its retries.
    Run,
    Hunt,
    Diagnose,
    Polluter,
    Bisect,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Run => "run",
            Engine::Hunt => "hunt",
            Engine::Diagnose => "diagnose",
            Engine::Polluter => "polluter",
            Engine::Bisect => "bisect",
        }
    }
}

/// A test result worth an event of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestResult {
    /// Failed in this execution.
    Failed,
    /// Failed earlier, passed in this (retry) execution.
    PassedOnRetry,
}

/// How an engine ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    /// It did what it set out to do (or its budget ran out).
    Completed,
    /// Stopped by Ctrl-C (or another signal): its results are partial.
    Interrupted,
    /// Stopped by a timeout.
    TimedOut,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    /// The engine starts: what it works on and how big its plan is.
    Started {
        engine: Engine,
        /// The test (diagnose, polluter) or command (run) it works on.
        subject: Option<String>,
        /// Tests in play (hunted tests, polluter candidates).
        tests: Option<u64>,
        /// The plan's size in its own unit (`unit`): rounds, runs per condition, retries.
        planned: Option<u64>,
        unit: Option<String>,
    },
    /// An execution (an invocation of the test command) starts.
    ExecutionStarted {
        number: u32,
        /// What it is: `first run`, `retry 1`, a hunt context (`shuffled 7`), a condition.
        label: String,
    },
    /// An execution finished.
    ExecutionFinished {
        number: u32,
        label: String,
        /// The command's exit status, when it ran to its end.
        exit: Option<i32>,
        passed: u64,
        failed: u64,
        seconds: f64,
        /// Whether its results count (not cut short by Ctrl-C, read without error).
        counted: bool,
    },
    /// Totals so far (after each execution of a hunt).
    Progress {
        executions: u32,
        rounds: u32,
        /// Tests that failed at least once so far.
        failing_tests: u64,
    },
    /// A test result that matters.
    Test {
        test: String,
        result: TestResult,
        /// The execution it happened in.
        execution: u32,
    },
    /// The wrapper pauses (`--retry-delay`) before a retry.
    RetryDelay { retry: u32, seconds: f64 },
    /// The wrapper re-runs the failed tests.
    RetryScheduled {
        retry: u32,
        retries: u32,
        tests: u64,
        /// The runner cannot select tests: the whole command runs again.
        whole_command: bool,
    },
    /// A diagnosis experiment starts: its suspect and conditions.
    ExperimentStarted {
        suspect: String,
        conditions: Vec<String>,
    },
    /// One run of an experiment ended: whether the test failed (`None`: no result), and the
    /// runs of the whole diagnosis so far.
    ConditionRan {
        suspect: String,
        condition: String,
        failed: Option<bool>,
        runs: u64,
    },
    /// An experiment was decided (or skipped).
    ExperimentDecided {
        suspect: String,
        conditions: u64,
        runs: u64,
        failures: u64,
        /// Smallest p-value against the control.
        p_value: f64,
        significant: bool,
        skipped: Option<String>,
        stopped: Option<String>,
    },
    /// A step of a bisection (polluter search): which candidates ran before the victim, and
    /// whether the victim failed.
    CandidateStep {
        purpose: String,
        candidates: u64,
        failed: Option<bool>,
        /// Runs of the whole search so far.
        runs: u64,
    },
    /// One run of a flake-aware bisection at a commit ended (`failed` `None`: the commit was
    /// skipped, for `skipped`), with the leading answer after it (a short sha or `none`).
    BisectRun {
        commit: String,
        failed: Option<bool>,
        skipped: Option<String>,
        /// Executions of the whole bisection so far.
        executions: u64,
        leader: String,
        probability: f64,
    },
    /// A batch of runs at one commit of a bisection ended: its failures of runs there so far.
    BisectStep {
        commit: String,
        subject: String,
        failures: u64,
        runs: u64,
        leader: String,
        probability: f64,
    },
    /// Something the user should know (e.g. a plugin that interferes, a store error).
    Warning { message: String },
    /// The engine finished.
    Finished {
        engine: Engine,
        ending: Ending,
        /// One line: what it found.
        summary: String,
    },
}

/// Stamps events with the time since the engine started and hands them to a sink.
pub struct Emitter<'a> {
    started: Instant,
    sink: Sink<'a>,
}

impl<'a> Emitter<'a> {
    /// Starts the clock.
    pub fn new(sink: Sink<'a>) -> Emitter<'a> {
        Emitter {
            started: Instant::now(),
            sink,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn emit(&mut self, kind: EventKind) {
        let event = Event {
            // Microseconds are plenty, and keep the JSON lines short.
            at: self.started.elapsed().as_micros() as f64 / 1e6,
            kind,
        };
        (self.sink)(&event);
    }
}

/// A duration as the engines' lines and the renderer say it: `10ms`, `5s`, `2.5s`.
pub fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{s:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<EventKind> {
        vec![
            EventKind::Started {
                engine: Engine::Hunt,
                subject: Some("pytest -q".into()),
                tests: Some(12),
                planned: Some(3),
                unit: Some("rounds".into()),
            },
            EventKind::ExecutionStarted {
                number: 1,
                label: "shuffled 7".into(),
            },
            EventKind::ExecutionFinished {
                number: 1,
                label: "shuffled 7".into(),
                exit: Some(1),
                passed: 11,
                failed: 1,
                seconds: 0.25,
                counted: true,
            },
            EventKind::Progress {
                executions: 1,
                rounds: 0,
                failing_tests: 1,
            },
            EventKind::Test {
                test: "t.py::x".into(),
                result: TestResult::PassedOnRetry,
                execution: 2,
            },
            EventKind::RetryDelay {
                retry: 1,
                seconds: 0.01,
            },
            EventKind::RetryScheduled {
                retry: 1,
                retries: 2,
                tests: 1,
                whole_command: false,
            },
            EventKind::ExperimentStarted {
                suspect: "time".into(),
                conditions: vec!["control".into(), "TZ=Etc/GMT+12".into()],
            },
            EventKind::ConditionRan {
                suspect: "time".into(),
                condition: "control".into(),
                failed: None,
                runs: 4,
            },
            EventKind::ExperimentDecided {
                suspect: "time".into(),
                conditions: 2,
                runs: 20,
                failures: 5,
                p_value: 0.0022,
                significant: true,
                skipped: None,
                stopped: Some("conclusive".into()),
            },
            EventKind::CandidateStep {
                purpose: "search".into(),
                candidates: 8,
                failed: Some(true),
                runs: 3,
            },
            EventKind::BisectRun {
                commit: "abc1234567".into(),
                failed: Some(true),
                skipped: None,
                executions: 3,
                leader: "def4567890".into(),
                probability: 0.5,
            },
            EventKind::BisectStep {
                commit: "abc1234567".into(),
                subject: "Add a cache".into(),
                failures: 1,
                runs: 4,
                leader: "none".into(),
                probability: 0.25,
            },
            EventKind::Warning {
                message: "pytest-randomly is active".into(),
            },
            EventKind::Finished {
                engine: Engine::Hunt,
                ending: Ending::Interrupted,
                summary: "3 executions".into(),
            },
        ]
    }

    #[test]
    fn events_round_trip_through_json_lines() {
        for (i, kind) in every_kind().into_iter().enumerate() {
            let e = Event {
                at: i as f64 * 0.25,
                kind,
            };
            let line = serde_json::to_string(&e).unwrap();
            assert!(!line.contains('\n'), "{line}");
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert!(v["event"].is_string() && v["at"].is_number(), "{line}");
            let back: Event = serde_json::from_str(&line).unwrap();
            assert_eq!(back, e, "{line}");
        }
    }

    #[test]
    fn the_emitter_stamps_and_forwards() {
        let mut got = Vec::new();
        {
            let mut sink = |e: &Event| got.push(e.clone());
            let mut em = Emitter::new(&mut sink);
            em.emit(EventKind::Warning {
                message: "w".into(),
            });
        }
        assert_eq!(got.len(), 1);
        assert!(got[0].at >= 0.0);
        let line = serde_json::to_string(&got[0]).unwrap();
        assert!(line.starts_with(r#"{"at":"#), "{line}");
        assert!(line.contains(r#""event":"warning""#), "{line}");
    }
}
