//! GitHub Actions history through the REST API
//! (<https://docs.github.com/en/rest/actions/workflow-runs>, `…/workflow-jobs`, `…/artifacts`).
//!
//! - Runs: `GET /repos/{owner}/{repo}/actions/runs` (or `…/actions/workflows/{workflow}/runs`
//!   with `--workflow`), `status=completed`, `branch`, `per_page=100`, pages through `Link`.
//!   A filtered list serves at most 1,000 runs, so the range is listed in `created=FROM..TO`
//!   windows, halved while one holds 1,000 runs or more (`total_count`) or its pages end before
//!   `total_count`.
//! - Each attempt of a run is a unit (`run_attempt` says how many there are):
//!   `GET …/runs/{id}/attempts/{n}` for earlier attempts, `GET …/runs/{id}/attempts/{n}/jobs`.
//! - Artifacts: `GET …/runs/{id}/artifacts` lists a run's artifacts, with no attempt number;
//!   an artifact belongs to the attempt that was running when it was created (from the
//!   attempt's `run_started_at` to the next attempt's). `GET /repos/{o}/{r}/actions/artifacts/{id}/zip`
//!   answers 302 to the archive (reqwest follows it and drops the token when the host changes);
//!   410 once expired.
//! - Reports of an artifact form the run `github-actions/{run id}/{attempt}/{job}`: the job is
//!   the attempt's only job when it has one, else the artifact's name (the REST API does not say
//!   which job uploaded an artifact).

use crate::http::{Api, ApiError};
use crate::{Fetched, Source, reports, seconds_between};
use flakehound_evidence::Input;
use flakehound_model::RunMeta;
use flakehound_store::{CiJob, RunKey};
use serde::Deserialize;
use std::path::Path;

pub const PROVIDER: &str = "github-actions";

/// Runs a filtered list serves at most.
const SEARCH_CAP: u64 = 1000;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Run {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub head_branch: Option<String>,
    #[serde(default)]
    pub head_sha: Option<String>,
    #[serde(default)]
    pub run_attempt: Option<u32>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub run_started_at: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    /// `null` for runs of forks and deleted branches.
    #[serde(default)]
    pub pull_requests: Option<Vec<PullRequest>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PullRequest {
    pub number: u64,
}

#[derive(Clone, Debug, Deserialize)]
struct Job {
    id: u64,
    name: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    completed_at: Option<String>,
    #[serde(default)]
    runner_name: Option<String>,
    #[serde(default)]
    labels: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize)]
struct Artifact {
    id: u64,
    name: String,
    #[serde(default)]
    expired: bool,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    size_in_bytes: Option<u64>,
}

/// What to import from one repository.
pub struct GitHub {
    pub api: Api,
    /// `owner/name`.
    pub repo: String,
    pub since: Option<jiff::Timestamp>,
    /// Workflow file name or id.
    pub workflow: Option<String>,
    pub branch: Option<String>,
    pub artifacts: globset::GlobSet,
}

/// One attempt of one run.
pub struct Unit {
    run: std::sync::Arc<Run>,
    attempt: u32,
}

fn canonical(t: &Option<String>) -> Option<String> {
    flakehound_store::time::canonical_or_raw(t.as_deref())
}

impl GitHub {
    /// The runs created from `from` to `to` (inclusive).
    fn runs_path(&self, from: jiff::Timestamp, to: jiff::Timestamp) -> String {
        let base = match &self.workflow {
            Some(w) => format!("/repos/{}/actions/workflows/{}/runs", self.repo, encode(w)),
            None => format!("/repos/{}/actions/runs", self.repo),
        };
        let mut q = vec!["per_page=100".to_string(), "status=completed".to_string()];
        if let Some(b) = &self.branch {
            q.push(format!("branch={}", encode(b)));
        }
        let fmt = |t: jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        q.push(format!(
            "created={}",
            encode(&format!("{}..{}", fmt(from), fmt(to)))
        ));
        format!("{base}?{}", q.join("&"))
    }

    /// Lists the finished runs created from `from` to `to`. GitHub serves at most 1,000 runs of
    /// a filtered list (its `total_count` says how many there are): a window holding 1,000 or
    /// more is listed as two halves instead, down to a minute.
    fn list_window(
        &self,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
        runs: &mut Vec<Run>,
    ) -> Result<(), ApiError> {
        if self.api.stopped() {
            return Err(ApiError::Stopped);
        }
        let path = self.runs_path(from, to);
        let (mut page, mut headers) = self.api.get_json(&path)?;
        let total = page
            .get("total_count")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        let span = to.as_second() - from.as_second();
        let halves = |runs: &mut Vec<Run>| {
            let mid = jiff::Timestamp::from_second(from.as_second() + span / 2).unwrap_or(from);
            let after = jiff::Timestamp::from_second(mid.as_second() + 1).unwrap_or(to);
            self.list_window(from, mid, runs)?;
            self.list_window(after, to, runs)
        };
        if total >= SEARCH_CAP && span > 60 {
            return halves(runs);
        }
        let mut got: Vec<Run> = Vec::new();
        let mut served = 0u64;
        loop {
            let url = self.api.url(&path);
            let items = page
                .get_mut("workflow_runs")
                .map(serde_json::Value::take)
                .ok_or_else(|| ApiError::Decode {
                    url: url.clone(),
                    reason: "no workflow_runs in the answer".into(),
                })?;
            let items: Vec<Run> = serde_json::from_value(items).map_err(|e| ApiError::Decode {
                url,
                reason: e.to_string(),
            })?;
            served += items.len() as u64;
            // `status=completed` is asked for; a server ignoring it still gets only finished
            // runs imported.
            got.extend(
                items
                    .into_iter()
                    .filter(|r| r.status.as_deref().is_none_or(|s| s == "completed")),
            );
            match crate::http::next_link(&headers) {
                Some(next) => (page, headers) = self.api.get_json(&next)?,
                None => break,
            }
        }
        // The pages ended before `total_count`: the list was capped (at fewer runs than
        // GitHub documents, or runs were added meanwhile); the halves are smaller.
        if served < total && span > 60 {
            return halves(runs);
        }
        runs.append(&mut got);
        Ok(())
    }

    fn attempt(&self, run: &Run, n: u32) -> Result<Run, ApiError> {
        if n == run.run_attempt.unwrap_or(1) {
            return Ok(run.clone());
        }
        let path = format!("/repos/{}/actions/runs/{}/attempts/{n}", self.repo, run.id);
        let (v, _) = self.api.get_json(&path)?;
        serde_json::from_value(v).map_err(|e| ApiError::Decode {
            url: self.api.url(&path),
            reason: e.to_string(),
        })
    }
}

/// Percent-encodes a query or path value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Source for GitHub {
    type Unit = Unit;

    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn key(&self, u: &Unit) -> String {
        format!("{}/runs/{}/attempts/{}", self.repo, u.run.id, u.attempt)
    }

    fn list(&self) -> Result<Vec<Unit>, ApiError> {
        let mut runs: Vec<Run> = Vec::new();
        // GitHub Actions did not exist before 2019.
        let from = self
            .since
            .unwrap_or(jiff::Timestamp::from_second(1_546_300_800).unwrap_or_default());
        let to = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(1))
            .unwrap_or(jiff::Timestamp::MAX);
        self.list_window(from, to, &mut runs)?;
        // The API lists newest first; import oldest first, so that an interrupted import
        // leaves a contiguous history.
        runs.sort_by_key(|r| r.id);
        runs.dedup_by_key(|r| r.id);
        let mut units = Vec::new();
        for r in runs {
            let run = std::sync::Arc::new(r);
            for attempt in 1..=run.run_attempt.unwrap_or(1).max(1) {
                units.push(Unit {
                    run: run.clone(),
                    attempt,
                });
            }
        }
        Ok(units)
    }

    fn fetch(&self, u: &Unit, scratch: &Path) -> Result<Fetched, ApiError> {
        let run = &*u.run;
        let n = u.attempt;
        let latest = run.run_attempt.unwrap_or(1).max(1);
        let this = self.attempt(run, n)?;
        // When the next attempt started: artifacts created after it are the next attempt's.
        let until: Option<jiff::Timestamp> = if n < latest {
            self.attempt(run, n + 1)?
                .run_started_at
                .and_then(|t| t.parse().ok())
        } else {
            None
        };
        let from: Option<jiff::Timestamp> = if n > 1 {
            this.run_started_at.as_deref().and_then(|t| t.parse().ok())
        } else {
            None
        };
        let pull_request = run
            .pull_requests
            .as_deref()
            .and_then(<[PullRequest]>::first)
            .map(|p| p.number.to_string());
        let mut gh_jobs: Vec<Job> = Vec::new();
        self.api.get_all(
            &format!(
                "/repos/{}/actions/runs/{}/attempts/{n}/jobs?per_page=100",
                self.repo, run.id
            ),
            &|mut v| v.get_mut("jobs").map(serde_json::Value::take),
            &mut |j: Job| {
                gh_jobs.push(j);
                Ok(())
            },
        )?;
        let jobs: Vec<CiJob> = gh_jobs
            .iter()
            .map(|j| CiJob {
                provider: PROVIDER.into(),
                run_id: run.id.to_string(),
                attempt: n,
                job_id: j.id.to_string(),
                name: j.name.clone(),
                workflow: run.name.clone(),
                commit: run.head_sha.clone(),
                branch: run.head_branch.clone(),
                pull_request: pull_request.clone(),
                conclusion: j
                    .conclusion
                    .clone()
                    .or_else(|| j.status.clone())
                    .unwrap_or_else(|| "unknown".into()),
                started_at: canonical(&j.started_at),
                completed_at: canonical(&j.completed_at),
                duration_secs: seconds_between(j.started_at.as_deref(), j.completed_at.as_deref()),
                runner: j
                    .runner_name
                    .clone()
                    .or_else(|| j.labels.as_deref().and_then(<[String]>::first).cloned()),
            })
            .collect();
        let mut arts: Vec<Artifact> = Vec::new();
        self.api.get_all(
            &format!(
                "/repos/{}/actions/runs/{}/artifacts?per_page=100",
                self.repo, run.id
            ),
            &|mut v| v.get_mut("artifacts").map(serde_json::Value::take),
            &mut |a: Artifact| {
                arts.push(a);
                Ok(())
            },
        )?;
        let mut fetched = Fetched {
            jobs,
            reports: Vec::new(),
            problems: Vec::new(),
            artifacts: 0,
        };
        let executed: Vec<&Job> = gh_jobs
            .iter()
            .filter(|j| j.conclusion.as_deref() != Some("skipped"))
            .collect();
        let only = (executed.len() == 1).then(|| executed[0]);
        let max = flakehound_evidence::max_report_bytes().map_err(|reason| ApiError::Decode {
            url: String::new(),
            reason,
        })?;
        for a in arts {
            if !self.artifacts.is_match(&a.name) {
                continue;
            }
            let created: Option<jiff::Timestamp> =
                a.created_at.as_deref().and_then(|t| t.parse().ok());
            let in_attempt = match created {
                Some(c) => from.is_none_or(|f| c >= f) && until.is_none_or(|u| c < u),
                // Without a creation time, the latest attempt takes it.
                None => n == latest,
            };
            if !in_attempt {
                continue;
            }
            let what = format!("run {} attempt {n}: artifact {:?}", run.id, a.name);
            if a.expired {
                fetched
                    .problems
                    .push(format!("{what} has expired; its reports are gone"));
                continue;
            }
            if a.size_in_bytes.is_some_and(|s| s > max) {
                fetched.problems.push(format!(
                    "{what} is larger than the report size cap ({max} bytes); skipped"
                ));
                continue;
            }
            let path = format!("/repos/{}/actions/artifacts/{}/zip", self.repo, a.id);
            let resp = match self.api.get(&path) {
                Ok(r) => r,
                Err(e) => match e.status() {
                    Some(410) => {
                        fetched.problems.push(format!(
                            "{what} has expired (410 Gone); its reports are gone"
                        ));
                        continue;
                    }
                    Some(403) => {
                        fetched.problems.push(format!(
                            "{what} cannot be downloaded: {e} (the token needs read access to \
                             Actions: `actions:read`, or the `repo` scope for a classic token)"
                        ));
                        continue;
                    }
                    Some(404) => {
                        fetched
                            .problems
                            .push(format!("{what} is not there any more (404)"));
                        continue;
                    }
                    _ => return Err(e),
                },
            };
            let zip = scratch.join(format!("{}.zip", a.id));
            let url = self.api.url(&path);
            reports::save(resp, &zip, max.saturating_mul(4)).map_err(|reason| {
                ApiError::Network {
                    url: url.clone(),
                    reason,
                }
            })?;
            fetched.artifacts += 1;
            let label = format!("{}-{}", a.name, a.id);
            match reports::unzip_reports(&zip, scratch, &label) {
                Ok((files, refused)) => {
                    fetched
                        .problems
                        .extend(refused.into_iter().map(|r| format!("{what}: {r}")));
                    let job = only.map_or_else(|| a.name.clone(), |j| j.name.clone());
                    let meta = RunMeta {
                        commit: run.head_sha.clone(),
                        branch: run.head_branch.clone(),
                        provider: Some(PROVIDER.into()),
                        job: Some(job),
                        run_id: Some(run.id.to_string()),
                        run_attempt: Some(n),
                        runner: only.and_then(|j| j.runner_name.clone()),
                        os: None,
                        started_at: canonical(&only.and_then(|j| j.started_at.clone()))
                            .or_else(|| canonical(&this.run_started_at)),
                        duration: only.and_then(|j| {
                            seconds_between(j.started_at.as_deref(), j.completed_at.as_deref())
                        }),
                        url: run.html_url.clone(),
                        pull_request: pull_request.clone(),
                    };
                    let key = RunKey::from_meta(&meta).unwrap_or_default();
                    for f in files {
                        fetched
                            .reports
                            .push((Input::File(f), key.clone(), meta.clone()));
                    }
                }
                Err(reason) => fetched.problems.push(format!("{what}: {reason}")),
            }
            let _ = std::fs::remove_file(&zip);
        }
        Ok(fetched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_where_lists_are_documented_are_read() {
        let run: Run = serde_json::from_value(serde_json::json!({
            "id": 7, "head_sha": "abc", "pull_requests": null, "run_attempt": null
        }))
        .unwrap();
        assert!(run.pull_requests.is_none() && run.run_attempt.is_none());
        let job: Job = serde_json::from_value(serde_json::json!({
            "id": 1, "name": "test", "labels": null, "runner_name": null
        }))
        .unwrap();
        assert!(job.labels.is_none());
    }

    #[test]
    fn runs_query() {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let gh = GitHub {
            api: Api::new("http://x", crate::Auth::None, stop, Box::new(|_| {})).unwrap(),
            repo: "o/r".into(),
            since: Some("2026-01-02T03:04:05Z".parse().unwrap()),
            workflow: Some("ci.yml".into()),
            branch: Some("feat/a b".into()),
            artifacts: crate::artifact_globs("*").unwrap(),
        };
        let to: jiff::Timestamp = "2026-01-03T00:00:00Z".parse().unwrap();
        assert_eq!(
            gh.runs_path(gh.since.unwrap(), to),
            "/repos/o/r/actions/workflows/ci.yml/runs?per_page=100&status=completed\
             &branch=feat%2Fa%20b&created=2026-01-02T03%3A04%3A05Z..2026-01-03T00%3A00%3A00Z"
        );
    }
}
