//! The outcome of one wrapped CI run (`flakehound run`): every test with all its attempts across
//! the first run and the retries, and what the build should make of it.
//!
//! Produced by the wrapper (retry orchestration), consumed by the publishers (merged JUnit,
//! Markdown summary, CI annotations) and the terminal summary.

use serde::{Deserialize, Serialize};

use crate::TestCase;

/// What one test amounts to at the end of a wrapped run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Passed on the first attempt.
    Passed,
    /// Skipped on its last attempt.
    Skipped,
    /// Failed, then passed on a retry.
    Flaky,
    /// Failed every attempt, but is quarantined: does not fail the build.
    Quarantined,
    /// Failed every attempt: fails the build.
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Passed => "passed",
            RunStatus::Skipped => "skipped",
            RunStatus::Flaky => "flaky",
            RunStatus::Quarantined => "quarantined",
            RunStatus::Failed => "failed",
        }
    }
}

/// Quarantine facts about a test, copied from `.flakehound/quarantine.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineInfo {
    pub reason: String,
    pub owner: String,
    /// `YYYY-MM-DD`.
    pub expires: String,
    pub expired: bool,
    pub issue: Option<String>,
}

/// One test of a wrapped run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WrappedTest {
    /// The test's record with `attempts` holding every execution in order: the first run's
    /// attempts, then each retry's. `outcome` is the last attempt's outcome.
    pub case: TestCase,
    pub status: RunStatus,
    /// Set when the test is in the quarantine file (whatever its outcome).
    pub quarantine: Option<QuarantineInfo>,
    /// Owner from CODEOWNERS or git blame, when known.
    pub owner: Option<String>,
}

impl WrappedTest {
    /// Seconds over all attempts.
    pub fn duration(&self) -> Option<f64> {
        self.case.duration()
    }
}

/// A whole wrapped run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WrappedRun {
    /// The user's command, shell-quoted for display.
    pub command: String,
    /// Runner adapter name (`pytest`, `cargo-test`, `nextest`, `go`, `jest`, `vitest`, `generic`).
    pub runner: String,
    /// Tests in first-seen order.
    pub tests: Vec<WrappedTest>,
    /// Number of runner invocations (1 + retries actually run).
    pub invocations: u32,
    /// Exit status of the first invocation of the runner.
    pub runner_exit: i32,
    /// The exit status flakehound returns.
    pub exit: i32,
    /// Entries in the quarantine file.
    pub quarantine_total: usize,
    /// Ids of quarantine entries past their expiry date.
    pub quarantine_expired: Vec<String>,
    /// Problems of flakehound itself (missing report, store unavailable...), already reflected
    /// in `exit` by falling back to the runner's own status.
    pub warnings: Vec<String>,
    /// Wall-clock seconds of the whole wrapped run.
    pub wall_seconds: f64,
    /// The runner's own command running just the tests that failed on every attempt (no
    /// flakehound in it), when the runner can select them and the line stays short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<String>,
    /// Why the build failed when it is not a test that failed on every attempt (a failure that
    /// is not a test failure, `--fail-on-flaky` naming its flaky tests, a timeout, a signal).
    /// Set by the wrapper; the summary's verdict line shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl WrappedRun {
    /// Number of tests with `status`.
    pub fn count(&self, status: RunStatus) -> usize {
        self.tests.iter().filter(|t| t.status == status).count()
    }
}
