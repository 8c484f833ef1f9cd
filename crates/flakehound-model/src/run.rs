//! Metadata of one CI run (one job execution) that produced reports.

use serde::{Deserialize, Serialize};

/// Where and when a set of reports was produced. Every field is optional: local runs have little.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// Full commit sha.
    pub commit: Option<String>,
    pub branch: Option<String>,
    /// `github-actions`, `gitlab-ci`, `buildkite`, `circleci`, `jenkins`, `azure-pipelines`, `local`.
    pub provider: Option<String>,
    /// Job / workflow name.
    pub job: Option<String>,
    /// Provider's id for the pipeline/workflow run.
    pub run_id: Option<String>,
    /// Re-run number of the whole CI job (1 for the first execution).
    pub run_attempt: Option<u32>,
    /// Runner / agent / host name.
    pub runner: Option<String>,
    /// Operating system of the runner, when known.
    pub os: Option<String>,
    /// Start of the run, RFC 3339 with zone.
    pub started_at: Option<String>,
    /// Duration of the run in seconds, when known.
    pub duration: Option<f64>,
    /// Link to the run.
    pub url: Option<String>,
    /// Pull/merge request number, when the run was for one.
    pub pull_request: Option<String>,
}

impl RunMeta {
    /// Fills every field of `self` that is `None` from `other`.
    pub fn fill_from(&mut self, other: &RunMeta) {
        macro_rules! fill {
            ($($f:ident),*) => {$( if self.$f.is_none() { self.$f = other.$f.clone(); } )*};
        }
        fill!(
            commit,
            branch,
            provider,
            job,
            run_id,
            run_attempt,
            runner,
            os,
            started_at,
            duration,
            url,
            pull_request
        );
    }
}
