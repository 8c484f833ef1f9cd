//! Deterministic synthetic CI histories with planted ground truth, for testing verdicts.
//!
//! [`generate`] builds a [`History`] from a [`Config`]: the CI runs of a pytest suite over a
//! sequence of commits, plus the truth of every test ([`Truth`]) and per-test side facts
//! ([`Detail`]). [`write_to_store`] stores it directly (one report per run);
//! [`write_junit`] writes it as JUnit files with a `runs.tsv` index, the layout of
//! `examples/history`, so the CLI can ingest it. The same config always gives the same history,
//! bit for bit (see `rng.rs` for why the random numbers are hand-written).
//!
//! # The history
//!
//! - **Tests** are pytest node ids (`tests/test_orders.py::TestRefundApi::test_cancel_order[csv]`,
//!   or `tests/unit/...` in large suites), with classname, name, file and line filled exactly as
//!   pytest's JUnit XML gives them (the ids are [`flakehound_model::canonical_id`]'s). Every test
//!   runs in every run; none is added or removed along the history.
//! - **Commits** are 40-hex shas on `main`, in order ([`History::commits`]). Each commit gets
//!   1–3 runs: the push run, sometimes more (pull request, merge queue) and a nightly scheduled
//!   run 23:00–00:30 UTC on the newest commit of each day. Runs are ordered by start time, and
//!   the first run of a commit always starts after the first run of the previous commit, so
//!   commit order can be recovered from run times. Commit times follow working hours (UTC),
//!   3–7 commits on weekdays, 0–1 on weekends.
//! - **Runs** are GitHub Actions job executions: provider `github-actions`, job `test (3.11)`,
//!   increasing run ids, runners `gha-ubuntu-N` (OS `Linux`) and `gha-macos-N` (`macOS`). A
//!   run that ended red is sometimes re-run as a whole ([`Config::rerun_rate`]): same commit and
//!   run id, `run_attempt` 2, a new run key, started after the first one finished.
//! - **Execution order**: collection order (modules by path, tests in definition order), fully
//!   shuffled in a share of runs ([`Config::shuffle_rate`], as pytest-randomly does).
//! - **Retries**: each failed test is re-run in the same job with probability
//!   [`Config::retry_rate`] (pytest-rerunfailures style). A retry is a *later record of the same
//!   test id* appended after the whole session ([`SynthRun::cases`]), i.e. attempt 2 in the
//!   store, and `attempt-2.xml` in [`write_junit`]'s output. A retry is a fresh draw with the
//!   same probability as the first attempt, except where noted below.
//! - **Durations** per test (most 2 ms–0.4 s, a few up to 9 s), jittered per attempt, macOS
//!   runners 35% slower. Failures keep a normal duration unless their cause forces one (a
//!   timeout lasts its limit, a read timeout 10 s, a refused connection a few ms).
//!
//! # Ground truth ([`Truth`] in [`History::truth`], side facts in [`History::details`])
//!
//! - **Stable**: never fails outside incidents (some are hit by incidents, see below). A few
//!   stable tests are *skipped* on macOS runners ([`Config::skipped_on_macos`]); skipped is not
//!   a failure.
//! - **Flaky** `{category, rate}`: `rate` is the probability that an attempt fails *when the
//!   category's trigger holds*; for the unconditional categories the trigger always holds and
//!   the rates are spread from 2% to 50% (quadratically, so low rates are common). Every flaky
//!   test fails in at least 3 first attempts outside incidents (forced on eligible runs when the
//!   draws gave fewer), so the truth is observable. Messages come from 1–3 templates of the
//!   category per test with fresh values per failure. Per category:
//!   - `concurrency`: lost updates, deadlocks, "dictionary changed size during iteration".
//!   - `order`: fails only when its **polluter** ([`Detail::polluter`], a stable test collected
//!     *after* it) ran earlier in the same session, which happens only in shuffled runs. Its
//!     retries always pass (the retry session runs the failed tests alone). Rate 70–100%.
//!     Messages: leftover state (registry entries, duplicate keys, cached values, flags).
//!   - `time`: fails only in runs starting 23:00–01:00 UTC ([`Detail::hours`] = `(23, 1)`,
//!     start hour inclusive, end exclusive, by the run's start), with off-by-one date/weekday
//!     messages. Rate 60–100%, retries too (they run in the same hour).
//!   - `randomness`: code collisions, hypothesis falsifying examples, unseeded draws.
//!   - `unordered`: the same elements in another order.
//!   - `network`: connection resets, read/connect timeouts to *external* hosts
//!     (`api.stripe.com`, …), one test at a time (not an incident).
//!   - `timeout`: passing durations at 60–97% of its limit ([`Detail::timeout`]: 2, 5, 10 or
//!     30 s); failing attempts last the limit plus up to 40 ms: `Failed: Timeout >5.0s`,
//!     `TimeoutError: Timeout after 5.0s …`.
//!   - `resource`: too many open files, `MemoryError`, cannot allocate memory.
//!   - `environment`: fails only on one OS ([`Detail::os`], `macOS`) or one runner
//!     ([`Detail::runner`], never the bad runner), rate 40–90%, with missing binaries, locale
//!     and path-normalisation messages. The **bad-runner victims** are environment tests too:
//!     otherwise healthy tests that fail 15–45% of attempts on [`History::bad_runner`] only
//!     (their `Detail::runner` is the bad runner), with *network/resource* messages
//!     (connection reset, connect timeout, too many open files, `MemoryError`). The category
//!     must come from the runner concentration, not the message.
//!   - `filesystem`: file exists / not found / permission denied under `/tmp`.
//!   - `float`: `0.30000000000000004 == 0.3` and friends.
//!   - `unknown`: generic assertion, `KeyError`, `AttributeError` messages of no shape.
//! - **Broken** `{culprit}`: every attempt of every run on the culprit commit and after fails,
//!   none before, with one message shape ([`Detail::message`]; numbers vary between failures but
//!   mask to one fingerprint). Culprits lie at 40–85% of the history.
//! - **Regression** `{culprit, rate}`: an intermittent bug: no failure before the culprit,
//!   `rate` (20–60%) of attempts from it on (retries included), one message shape. The first
//!   run of the culprit commit always fails (so the exact culprit is observable), and at least
//!   3 runs fail from it on. Culprits lie at 35–75%.
//! - **Fixed** `{fix_commit}`: every attempt failed from [`Detail::broken_since`] (10–45% of the
//!   history) until the fix commit (3 or more commits later, at most 65%), none before or since;
//!   one message shape.
//! - **Infra**: a test depending on the infrastructure: it fails (errors) in **every** incident,
//!   on every attempt, and nowhere else. Planted only with 2 or more incidents.
//!
//! # Incidents ([`History::incidents`], indexes into [`History::runs`])
//!
//! A few first runs (never a whole-job re-run, never in the first tenth of the history, never
//! on a culprit commit nor on a fixed test's failing window or fix commit, never two within 3
//! runs) where 20–60% of the other tests, and every infra test, error together with one infra
//! message kind: database connection refused (`db-N.internal`), could not resolve host
//! (`redis-N.internal`), no space left on device, or OOM-killed worker. Tests of any truth may be
//! hit; a test's own failure takes precedence in that attempt. Retries of hit tests fail again
//! with probability 0.8 (always for infra tests). A red incident run may get a whole-job
//! re-run, which is not an incident.
//!
//! The convention separating `infra` from `stable`: **an infra test is hit by every incident;
//! any other test by at most half of them** (rounded down). So a verdict engine should
//! attribute incident failures to the incident, call a test with no other failure `stable`
//! when it was hit by at most half of the incidents and `infra` when it was hit by (nearly)
//! all of them.
//!
//! # Outputs
//!
//! [`write_to_store`] writes one report per run (`source` `synthetic`, format JUnit, the run
//! key of [`SynthRun::key`], i.e. `github-actions/<run id>/<attempt>/test (3.11)`, a content
//! hash of the run). [`write_junit`] writes `runs/NNNN/attempt-1.xml` (the session) and
//! `attempt-2.xml` (the retries, when any), `runs.tsv` (`dir commit branch runner run_id
//! attempt timestamp job`, as `examples/demo.sh` reads it) and `truth.json`. Ingesting the files
//! with the CLI gives the same records as [`write_to_store`], two reports per run with
//! retries.

use flakehound_model::{Format, ReportInfo, RunMeta, TestCase};
use flakehound_store::{NewReport, RunKey, Store, StoreError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

mod changes;
mod generator;
mod heldout;
mod messages;
mod names;
mod rng;
mod write;

pub use changes::{Change, ChangeHistory, ChangesConfig, changes};
pub use write::{write_junit, write_junit_bare};

pub use flakehound_model::Category;

/// The planted truth of one test (see the crate docs for what each means in the data).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Truth {
    Stable,
    Flaky {
        category: Category,
        /// Failure probability of an attempt when the category's trigger holds.
        rate: f64,
    },
    /// Fails every attempt from `culprit` (a commit sha) on.
    Broken {
        culprit: String,
    },
    /// Intermittent bug: no failure before `culprit`, `rate` (< 1) of attempts from it on.
    Regression {
        culprit: String,
        rate: f64,
    },
    /// Failed every attempt for a while, healthy since `fix_commit`.
    Fixed {
        fix_commit: String,
    },
    /// Fails in every infrastructure incident and nowhere else.
    Infra,
}

impl Truth {
    /// The verdict name: `stable`, `flaky`, `broken`, `regression`, `fixed` or `infra`.
    pub fn verdict(&self) -> &'static str {
        match self {
            Truth::Stable => "stable",
            Truth::Flaky { .. } => "flaky",
            Truth::Broken { .. } => "broken",
            Truth::Regression { .. } => "regression",
            Truth::Fixed { .. } => "fixed",
            Truth::Infra => "infra",
        }
    }

    pub fn category(&self) -> Option<Category> {
        match self {
            Truth::Flaky { category, .. } => Some(*category),
            _ => None,
        }
    }

    /// The culprit commit of a broken test or a regression.
    pub fn culprit(&self) -> Option<&str> {
        match self {
            Truth::Broken { culprit } | Truth::Regression { culprit, .. } => Some(culprit),
            _ => None,
        }
    }
}

impl fmt::Display for Truth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Truth::Flaky { category, rate } => write!(f, "flaky ({category}, {rate})"),
            Truth::Broken { culprit } => write!(f, "broken since {}", &culprit[..12]),
            Truth::Regression { culprit, rate } => {
                write!(f, "regression since {} ({rate})", &culprit[..12])
            }
            Truth::Fixed { fix_commit } => write!(f, "fixed in {}", &fix_commit[..12]),
            other => f.write_str(other.verdict()),
        }
    }
}

/// Side facts of a planted test, for checking evidence (which conditions make it fail).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Detail {
    /// Order: the test whose earlier run in the same session makes this one fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub polluter: Option<String>,
    /// Environment: the only runner it fails on (the bad runner for bad-runner victims).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    /// Environment: the only OS it fails on. Stable tests skipped on macOS: `macOS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Time: UTC hour window of run starts where it fails, `(start inclusive, end exclusive)`,
    /// wrapping past midnight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours: Option<(u8, u8)>,
    /// Timeout: the limit in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Fixed: the first commit that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_since: Option<String>,
    /// Broken, regression, fixed: an example of its one message shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Human-readable summary of what was planted.
    pub note: String,
}

/// One CI run (one job execution) of the history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SynthRun {
    /// Run key, `github-actions/<run id>/<run attempt>/<job>` ([`RunKey::from_meta`]).
    pub key: String,
    pub meta: RunMeta,
    /// Index of the run's commit in [`History::commits`].
    pub commit_index: usize,
    /// Records in execution order; retries are later records of the same test id.
    pub cases: Vec<TestCase>,
    /// Number of records of the first session (every test once): `cases[session_len..]` are
    /// the retries.
    pub session_len: usize,
}

/// A generated history with its ground truth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct History {
    pub seed: u64,
    /// Commit shas (40 hex), oldest first.
    pub commits: Vec<String>,
    /// Runs ordered by start time.
    pub runs: Vec<SynthRun>,
    /// Truth of every test, by test id.
    pub truth: BTreeMap<String, Truth>,
    /// Side facts of every planted (non-stable) test, and of stable tests skipped on macOS.
    pub details: BTreeMap<String, Detail>,
    /// Indexes into `runs` of the infrastructure incidents, ascending.
    pub incidents: Vec<usize>,
    /// The runner on which the bad-runner victims fail.
    pub bad_runner: Option<String>,
}

impl History {
    /// Number of tests per verdict name (`stable`, `flaky`, …), zero counts included.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out: BTreeMap<&'static str, usize> =
            ["stable", "flaky", "broken", "regression", "fixed", "infra"]
                .into_iter()
                .map(|k| (k, 0))
                .collect();
        for t in self.truth.values() {
            *out.entry(t.verdict()).or_default() += 1;
        }
        out
    }

    /// Number of flaky tests per category.
    pub fn category_counts(&self) -> BTreeMap<Category, usize> {
        let mut out = BTreeMap::new();
        for t in self.truth.values() {
            if let Some(c) = t.category() {
                *out.entry(c).or_default() += 1;
            }
        }
        out
    }

    pub fn is_incident(&self, run: usize) -> bool {
        self.incidents.binary_search(&run).is_ok()
    }

    /// Indexes of the runs in which `test` had at least one failed or errored attempt.
    pub fn failed_runs(&self, test: &str) -> Vec<usize> {
        self.runs
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.cases
                    .iter()
                    .any(|c| c.id == test && c.outcome.is_failure())
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Total number of attempts (store results).
    pub fn attempts(&self) -> usize {
        self.runs
            .iter()
            .flat_map(|r| &r.cases)
            .map(|c| c.attempts.len())
            .sum()
    }

    /// Index of `sha` in [`History::commits`].
    pub fn commit_index(&self, sha: &str) -> Option<usize> {
        self.commits.iter().position(|c| c == sha)
    }

    /// A content hash of run `i` (hex BLAKE3 of its identity and records), used as its
    /// report hash: stable across generations, different for different content.
    pub fn report_hash(&self, i: usize) -> String {
        let run = &self.runs[i];
        let mut h = blake3::Hasher::new();
        h.update(b"flakehound-synth\0");
        h.update(run.key.as_bytes());
        h.update(run.meta.started_at.as_deref().unwrap_or("").as_bytes());
        h.update(run.meta.commit.as_deref().unwrap_or("").as_bytes());
        for c in &run.cases {
            h.update(c.id.as_bytes());
            h.update(c.outcome.as_str().as_bytes());
            for a in &c.attempts {
                h.update(&a.duration.unwrap_or(-1.0).to_le_bytes());
                if let Some(m) = a.failure.as_ref().and_then(|f| f.message.as_deref()) {
                    h.update(m.as_bytes());
                }
            }
        }
        h.finalize().to_hex().to_string()
    }
}

/// What to generate. Start from [`Config::small`] or [`Config::large`] and adjust knobs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    pub seed: u64,
    /// Number of commits (at least 10).
    pub commits: usize,
    /// Tests with nothing planted (they may still be hit by incidents, and include the polluters
    /// of order tests and the tests skipped on macOS).
    pub stable_tests: usize,
    /// Flaky tests of each of the 12 categories.
    pub flaky_per_category: usize,
    /// Environment-flaky tests failing only on the bad runner (0: no bad runner).
    pub bad_runner_victims: usize,
    /// Tests broken from a culprit commit on.
    pub broken: usize,
    /// Intermittent regressions.
    pub regressions: usize,
    /// Tests that were broken for a while, then fixed.
    pub fixed: usize,
    /// Tests failing in every incident and nowhere else (needs at least 2 incidents).
    pub infra_tests: usize,
    /// Infrastructure incidents.
    pub incidents: usize,
    /// Stable tests skipped on macOS runners.
    pub skipped_on_macos: usize,
    pub linux_runners: usize,
    pub macos_runners: usize,
    /// Probability that a failed test is retried in the same job.
    pub retry_rate: f64,
    /// Probability that a red run is re-run as a whole (`run_attempt` 2).
    pub rerun_rate: f64,
    /// Share of runs executing tests in a shuffled order.
    pub shuffle_rate: f64,
    /// Start of the history, unix seconds (the first commit is on that UTC day).
    pub start: i64,
    /// Which family of histories: the tuning one or the held-out one (see [`Style`]).
    pub style: Style,
}

/// Which generator family a history comes from. The verdict engine is developed and tuned on
/// [`Style::Tuning`] histories only; [`Style::HeldOut`] histories exist to measure it on data
/// it was not fitted to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Style {
    /// The histories described in the crate docs (pytest messages, a nightly run 23:00–00:30
    /// UTC, European/American working hours, runners `gha-*`).
    #[default]
    Tuning,
    /// Held out for evaluation, kept independent of the tuning histories where the categories
    /// are concerned:
    /// - **messages** in four dialects (pytest, JUnit, Go, Jest; one per flaky test) written
    ///   apart from the tuning templates (`heldout.rs`), including randomness failures told only
    ///   by their varying values (`assert 4821 < 4790`, then `assert 133 < 97`), and **noise**:
    ///   10% of a flaky test's failures carry a shapeless message (`exit status 1`);
    /// - **timing**: commits in American working hours (peak 14–22 UTC), the nightly run at
    ///   07:00–08:30 UTC (midnight in California), and time tests failing in a window drawn per
    ///   test from 06:00–10:00 UTC (as code comparing local and UTC dates does);
    /// - **runners** `buildkite-linux-N` / `buildkite-mac-N`, one of the Linux runners (never
    ///   the bad one) **slow**: every test takes 1.6× as long there, and half of the timeout
    ///   tests are *timeouts on the slow runner* (their rate there, a tenth of it elsewhere; the
    ///   truth is `timeout`, with [`Detail::runner`] the slow runner as the contributing factor).
    HeldOut,
}

/// 2026-03-02T00:00:00Z, a Monday.
const DEFAULT_START: i64 = 1_772_409_600;

impl Config {
    /// 40 commits, ~75 runs, 60 tests: every kind planted once or twice, 2 incidents.
    ///
    /// Planted: 14 flaky (one per category, plus 2 bad-runner victims in `environment`),
    /// 2 broken, 2 regressions, 2 fixed, 2 infra; 38 stable (2 of them skipped on macOS).
    /// Runners: 3 Linux, 1 macOS.
    pub fn small(seed: u64) -> Config {
        Config {
            seed,
            commits: 40,
            stable_tests: 38,
            flaky_per_category: 1,
            bad_runner_victims: 2,
            broken: 2,
            regressions: 2,
            fixed: 2,
            infra_tests: 2,
            incidents: 2,
            skipped_on_macos: 2,
            linux_runners: 3,
            macos_runners: 1,
            retry_rate: 0.7,
            rerun_rate: 0.3,
            shuffle_rate: 0.4,
            start: DEFAULT_START,
            style: Style::Tuning,
        }
    }

    /// 300 commits, ~590 runs over ~12 weeks, 600 tests, 5 incidents.
    ///
    /// Planted: 54 flaky (4 per category, plus 6 bad-runner victims in `environment`),
    /// 6 broken, 10 regressions, 6 fixed, 5 infra; 519 stable (8 of them skipped on macOS).
    /// Runners: 4 Linux, 2 macOS.
    pub fn large(seed: u64) -> Config {
        Config {
            seed,
            commits: 300,
            stable_tests: 519,
            flaky_per_category: 4,
            bad_runner_victims: 6,
            broken: 6,
            regressions: 10,
            fixed: 6,
            infra_tests: 5,
            incidents: 5,
            skipped_on_macos: 8,
            linux_runners: 4,
            macos_runners: 2,
            retry_rate: 0.7,
            rerun_rate: 0.3,
            shuffle_rate: 0.4,
            start: DEFAULT_START,
            style: Style::Tuning,
        }
    }

    /// A held-out history ([`Style::HeldOut`]): 150 commits over ~6 weeks from 2026-06-01,
    /// 280 tests: 38 flaky (3 per category, plus 2 bad-runner victims), 3 broken, 4 regressions,
    /// 3 fixed, 3 infra, 229 stable. Runners: 4 Linux (one slow), 1 macOS. For evaluation only:
    /// never tune the verdict engine on these histories.
    pub fn held_out(seed: u64) -> Config {
        Config {
            seed,
            commits: 150,
            stable_tests: 229,
            flaky_per_category: 3,
            bad_runner_victims: 2,
            broken: 3,
            regressions: 4,
            fixed: 3,
            infra_tests: 3,
            incidents: 3,
            skipped_on_macos: 3,
            linux_runners: 4,
            macos_runners: 1,
            retry_rate: 0.5,
            rerun_rate: 0.2,
            shuffle_rate: 0.5,
            // 2026-06-01T00:00:00Z, a Monday.
            start: 1_780_272_000,
            style: Style::HeldOut,
        }
    }

    /// Number of tests with something planted.
    pub fn planted_tests(&self) -> usize {
        12 * self.flaky_per_category
            + self.bad_runner_victims
            + self.broken
            + self.regressions
            + self.fixed
            + self.infra_tests
    }

    pub fn total_tests(&self) -> usize {
        self.stable_tests + self.planted_tests()
    }

    /// Checks that the knobs can be honoured.
    pub fn validate(&self) -> Result<(), String> {
        let p = |x: f64| (0.0..=1.0).contains(&x);
        if self.commits < 10 {
            return Err(format!("needs at least 10 commits, got {}", self.commits));
        }
        if self.linux_runners == 0 {
            return Err("needs at least one Linux runner".into());
        }
        if self.linux_runners + self.macos_runners < 2 {
            return Err("needs at least two runners".into());
        }
        if self.infra_tests > 0 && self.incidents < 2 {
            return Err("infra tests need at least 2 incidents to be told from stable ones".into());
        }
        // Order victims need stable polluters after them, skipped tests need stable tests.
        if self.stable_tests < 2 * self.flaky_per_category + self.skipped_on_macos + 2 {
            return Err("too few stable tests for the polluters and skipped tests".into());
        }
        if !(p(self.retry_rate) && p(self.rerun_rate) && p(self.shuffle_rate)) {
            return Err("rates must be within [0, 1]".into());
        }
        if self.flaky_per_category > 0 && self.shuffle_rate == 0.0 {
            return Err("order tests need shuffled runs (shuffle_rate > 0)".into());
        }
        Ok(())
    }
}

/// Generates the history of `cfg`. Panics when [`Config::validate`] fails.
pub fn generate(cfg: &Config) -> History {
    generator::generate(cfg)
}

/// Writes every run of `history` into `store`, one report per run, and flushes. Runs whose
/// report is already stored are skipped, so writing twice changes nothing.
pub fn write_to_store(history: &History, store: &mut dyn Store) -> Result<(), StoreError> {
    for (i, run) in history.runs.iter().enumerate() {
        let hash = history.report_hash(i);
        if store.has_report(&hash)? {
            continue;
        }
        let key = RunKey(run.key.clone());
        let path = format!("runs/{i:04}");
        let new = NewReport {
            hash: &hash,
            path: Some(&path),
            format: Some(Format::Junit),
            run_key: &key,
            run: &run.meta,
            source: flakehound_model::RunSource::Synthetic,
        };
        let mut writer = store.begin_report(&new)?;
        for case in &run.cases {
            writer.add(case.clone())?;
        }
        writer.commit(&ReportInfo {
            format: Some(Format::Junit),
            tool: Some("pytest".to_string()),
            timestamp: run.meta.started_at.clone(),
            hostname: run.meta.runner.clone(),
            ..Default::default()
        })?;
    }
    store.flush()
}
