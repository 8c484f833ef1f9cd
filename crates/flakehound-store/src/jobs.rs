//! Job-level evidence imported from a CI provider's history (`flakehound import`): one row per
//! job execution (a re-run attempt is another row), and the list of what was imported, so that
//! importing again changes nothing and an interrupted import resumes where it stopped.
//!
//! Both engines implement [`CiJobs`] on the store handle ([`crate::Store::job_evidence`]), in tables
//! of their own (`ci_jobs`, `ci_imports`) scoped to the handle's project.

use crate::Result;

/// One execution of a CI job.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CiJob {
    /// `github` or `gitlab`.
    pub provider: String,
    /// The workflow run (GitHub) or pipeline (GitLab) id.
    pub run_id: String,
    /// Attempt of the run (GitHub `run_attempt`; GitLab: 1 + how many earlier executions of the
    /// same job name the pipeline had).
    pub attempt: u32,
    /// The provider's job id (unique per execution).
    pub job_id: String,
    pub name: String,
    /// Workflow (GitHub) or `None`.
    pub workflow: Option<String>,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub pull_request: Option<String>,
    /// `success`, `failure`, `cancelled`, `skipped`, … as the provider says (GitLab's `failed`
    /// reads `failure`).
    pub conclusion: String,
    /// RFC 3339 UTC.
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub duration_secs: Option<f64>,
    pub runner: Option<String>,
}

impl CiJob {
    pub fn failed(&self) -> bool {
        matches!(self.conclusion.as_str(), "failure" | "timed_out")
    }
    pub fn passed(&self) -> bool {
        self.conclusion == "success"
    }
}

/// Job-level evidence in the store.
pub trait CiJobs {
    /// Records the jobs of one imported unit (a run attempt, a pipeline) and marks `unit`
    /// imported, in one transaction, after flushing the reports committed before it (so a unit
    /// is marked only once its reports are durable). A unit marked already changes nothing and
    /// answers `false`.
    fn record_import(&mut self, provider: &str, unit: &str, jobs: &[CiJob]) -> Result<bool>;
    /// The units of `provider` imported so far.
    fn imported_units(&mut self, provider: &str) -> Result<std::collections::HashSet<String>>;
    /// Every stored job of this project, ordered by provider, run, attempt, name.
    fn jobs(&mut self) -> Result<Vec<CiJob>>;
}
