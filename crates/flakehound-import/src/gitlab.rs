//! GitLab CI history through the REST API (<https://docs.gitlab.com/api/pipelines/>,
//! `…/jobs/`, `…/job_artifacts/`).
//!
//! - Pipelines: `GET /projects/:id/pipelines` (`updated_after` for `--since`, `ref` for
//!   `--branch`, `per_page=100`, pages through `Link`/`X-Next-Page`); a finished pipeline
//!   (success, failed, canceled, skipped) is a unit.
//! - Jobs: `GET /projects/:id/pipelines/:pid/jobs?include_retried=true`: a retried job appears
//!   once per execution; executions of one job name, in id order, are its attempts 1, 2, ….
//! - Reports: `GET /projects/:id/pipelines/:pid/test_report` (the JUnit reports the jobs
//!   declared, parsed by GitLab; one suite per job, for the latest execution of each job) is
//!   written as a JUnit document per suite and ingested as the run
//!   `gitlab-ci/{pipeline}/{attempt}/{job}`. With `--artifacts GLOB`, the archives of the jobs
//!   whose names match (`GET /projects/:id/jobs/:job_id/artifacts`) are searched for reports too
//!   (for reports not declared as `artifacts:reports:junit`).

use crate::http::{Api, ApiError};
use crate::{Fetched, Source, reports, seconds_between};
use flakehound_evidence::Input;
use flakehound_model::RunMeta;
use flakehound_store::{CiJob, RunKey};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

pub const PROVIDER: &str = "gitlab-ci";

#[derive(Clone, Debug, Deserialize)]
pub struct Pipeline {
    pub id: u64,
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(rename = "ref", default)]
    pub git_ref: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub web_url: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
struct Runner {
    #[serde(default)]
    description: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
struct ArtifactsFile {
    #[serde(default)]
    size: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
struct Job {
    id: u64,
    name: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    finished_at: Option<String>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    runner: Option<Runner>,
    #[serde(default)]
    artifacts_file: Option<ArtifactsFile>,
}

#[derive(Debug, Default, Deserialize)]
struct TestReport {
    #[serde(default)]
    test_suites: Vec<Suite>,
}

#[derive(Debug, Deserialize)]
struct Suite {
    #[serde(default)]
    name: String,
    #[serde(default)]
    test_cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    classname: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    execution_time: Option<f64>,
    #[serde(default)]
    system_output: Option<serde_json::Value>,
    #[serde(default)]
    stack_trace: Option<String>,
}

pub struct GitLab {
    pub api: Api,
    /// Numeric id or `group/project` path.
    pub project: String,
    pub since: Option<jiff::Timestamp>,
    pub branch: Option<String>,
    /// Jobs whose artifact archives are searched for reports (none when `None`).
    pub artifacts: Option<globset::GlobSet>,
}

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

fn conclusion(status: Option<&str>) -> String {
    match status {
        Some("success") => "success",
        Some("failed") => "failure",
        Some("canceled") => "cancelled",
        Some("skipped") | Some("manual") => "skipped",
        Some(other) => other,
        None => "unknown",
    }
    .to_string()
}

impl GitLab {
    fn base(&self) -> String {
        format!("/projects/{}", encode(&self.project))
    }
}

/// Escapes text for XML content and attributes (five characters; the document is ours and
/// small, so no writer library is needed). Characters XML 1.0 forbids are dropped.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// A suite of the test report as a JUnit document. The pipeline and job are written in it
/// (and the job's start as its timestamp): a report is stored by its content, and two
/// pipelines with the same results are two runs, not one report seen twice.
fn junit(suite: &Suite, pipeline: u64, job: Option<(u64, Option<&str>)>) -> String {
    let timestamp = job
        .and_then(|j| j.1)
        .map(|t| format!(" timestamp=\"{}\"", xml(t)))
        .unwrap_or_default();
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{}\" tests=\"{}\"{timestamp}>\n",
        xml(&suite.name),
        suite.test_cases.len()
    );
    s.push_str(&format!(
        "  <properties><property name=\"gitlab.pipeline_id\" value=\"{pipeline}\"/>"
    ));
    if let Some((id, _)) = job {
        s.push_str(&format!(
            "<property name=\"gitlab.job_id\" value=\"{id}\"/>"
        ));
    }
    s.push_str("</properties>\n");
    for c in &suite.test_cases {
        s.push_str(&format!("  <testcase name=\"{}\"", xml(&c.name)));
        if let Some(cl) = &c.classname {
            s.push_str(&format!(" classname=\"{}\"", xml(cl)));
        }
        if let Some(f) = &c.file {
            s.push_str(&format!(" file=\"{}\"", xml(f)));
        }
        if let Some(t) = c.execution_time {
            s.push_str(&format!(" time=\"{t}\""));
        }
        s.push('>');
        let trace = c.stack_trace.as_deref().unwrap_or_default();
        match c.status.as_deref() {
            Some("failed") => s.push_str(&format!("<failure>{}</failure>", xml(trace))),
            Some("error") => s.push_str(&format!("<error>{}</error>", xml(trace))),
            Some("skipped") => s.push_str("<skipped/>"),
            _ => {}
        }
        if let Some(out) = &c.system_output {
            let text = match out {
                serde_json::Value::String(t) => t.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            if !text.is_empty() {
                s.push_str(&format!("<system-out>{}</system-out>", xml(&text)));
            }
        }
        s.push_str("</testcase>\n");
    }
    s.push_str("</testsuite>\n");
    s
}

impl Source for GitLab {
    type Unit = Pipeline;

    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn key(&self, p: &Pipeline) -> String {
        format!("{}/pipelines/{}", self.project, p.id)
    }

    fn list(&self) -> Result<Vec<Pipeline>, ApiError> {
        let mut q = vec![
            "per_page=100".to_string(),
            "order_by=id".into(),
            "sort=asc".into(),
        ];
        if let Some(b) = &self.branch {
            q.push(format!("ref={}", encode(b)));
        }
        if let Some(t) = self.since {
            q.push(format!(
                "updated_after={}",
                encode(&t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            ));
        }
        let mut out: Vec<Pipeline> = Vec::new();
        self.api.get_all(
            &format!("{}/pipelines?{}", self.base(), q.join("&")),
            &|v| v.is_array().then_some(v),
            &mut |p: Pipeline| {
                if self.api.stopped() {
                    return Err(ApiError::Stopped);
                }
                if matches!(
                    p.status.as_deref(),
                    Some("success" | "failed" | "canceled" | "skipped")
                ) {
                    out.push(p);
                }
                Ok(())
            },
        )?;
        out.sort_by_key(|p| p.id);
        out.dedup_by_key(|p| p.id);
        Ok(out)
    }

    fn fetch(&self, p: &Pipeline, scratch: &Path) -> Result<Fetched, ApiError> {
        let mut gl_jobs: Vec<Job> = Vec::new();
        self.api.get_all(
            &format!(
                "{}/pipelines/{}/jobs?include_retried=true&per_page=100",
                self.base(),
                p.id
            ),
            &|v| v.is_array().then_some(v),
            &mut |j: Job| {
                gl_jobs.push(j);
                Ok(())
            },
        )?;
        gl_jobs.sort_by_key(|j| j.id);
        let mut seen: HashMap<String, u32> = HashMap::new();
        let attempts: Vec<u32> = gl_jobs
            .iter()
            .map(|j| {
                let n = seen.entry(j.name.clone()).or_default();
                *n += 1;
                *n
            })
            .collect();
        let canonical = |t: &Option<String>| flakehound_store::time::canonical_or_raw(t.as_deref());
        let meta_of = |j: &Job, attempt: u32| RunMeta {
            commit: p.sha.clone(),
            branch: p.git_ref.clone(),
            provider: Some(PROVIDER.into()),
            job: Some(j.name.clone()),
            run_id: Some(p.id.to_string()),
            run_attempt: Some(attempt),
            runner: j.runner.as_ref().and_then(|r| r.description.clone()),
            os: None,
            started_at: canonical(&j.started_at).or_else(|| canonical(&p.created_at)),
            duration: j.duration,
            url: p.web_url.clone(),
            pull_request: None,
        };
        let mut fetched = Fetched {
            jobs: gl_jobs
                .iter()
                .zip(&attempts)
                .map(|(j, &attempt)| CiJob {
                    provider: PROVIDER.into(),
                    run_id: p.id.to_string(),
                    attempt,
                    job_id: j.id.to_string(),
                    name: j.name.clone(),
                    workflow: None,
                    commit: p.sha.clone(),
                    branch: p.git_ref.clone(),
                    pull_request: None,
                    conclusion: conclusion(j.status.as_deref()),
                    started_at: canonical(&j.started_at),
                    completed_at: canonical(&j.finished_at),
                    duration_secs: j.duration.or_else(|| {
                        seconds_between(j.started_at.as_deref(), j.finished_at.as_deref())
                    }),
                    runner: j.runner.as_ref().and_then(|r| r.description.clone()),
                })
                .collect(),
            reports: Vec::new(),
            problems: Vec::new(),
            artifacts: 0,
        };
        // The latest execution of each job name: what the test report describes.
        let mut latest: HashMap<&str, (&Job, u32)> = HashMap::new();
        for (j, &a) in gl_jobs.iter().zip(&attempts) {
            latest.insert(&j.name, (j, a));
        }
        // Jobs whose archives held reports: their test report suites would be the same
        // results again.
        let mut from_archives = std::collections::HashSet::new();
        let max = flakehound_evidence::max_report_bytes().map_err(|reason| ApiError::Decode {
            url: String::new(),
            reason,
        })?;
        if let Some(globs) = &self.artifacts {
            for (j, &a) in gl_jobs.iter().zip(&attempts) {
                if !globs.is_match(&j.name) || j.artifacts_file.is_none() {
                    continue;
                }
                let what = format!("pipeline {} job {:?} ({})", p.id, j.name, j.id);
                if j.artifacts_file
                    .as_ref()
                    .and_then(|f| f.size)
                    .is_some_and(|s| s > max)
                {
                    fetched.problems.push(format!(
                        "{what}: artifacts larger than the report size cap; skipped"
                    ));
                    continue;
                }
                let path = format!("{}/jobs/{}/artifacts", self.base(), j.id);
                let resp = match self.api.get(&path) {
                    Ok(r) => r,
                    Err(e) => match e.status() {
                        Some(404 | 410) => {
                            fetched
                                .problems
                                .push(format!("{what}: artifacts expired or removed ({e})"));
                            continue;
                        }
                        Some(403) => {
                            fetched.problems.push(format!(
                                "{what}: artifacts cannot be downloaded: {e} (the token needs the \
                                 read_api scope)"
                            ));
                            continue;
                        }
                        _ => return Err(e),
                    },
                };
                let zip = scratch.join(format!("{}.zip", j.id));
                let url = self.api.url(&path);
                reports::save(resp, &zip, max.saturating_mul(4))
                    .map_err(|reason| ApiError::Network { url, reason })?;
                fetched.artifacts += 1;
                match reports::unzip_reports(&zip, scratch, &format!("{}-{}", j.name, j.id)) {
                    Ok((files, refused)) => {
                        fetched
                            .problems
                            .extend(refused.into_iter().map(|r| format!("{what}: {r}")));
                        let meta = meta_of(j, a);
                        let key = RunKey::from_meta(&meta).unwrap_or_default();
                        if !files.is_empty() {
                            from_archives.insert(j.id);
                        }
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
        }
        let path = format!("{}/pipelines/{}/test_report", self.base(), p.id);
        let report: TestReport = match self.api.get_json(&path) {
            Ok((v, _)) => serde_json::from_value(v).map_err(|e| ApiError::Decode {
                url: self.api.url(&path),
                reason: e.to_string(),
            })?,
            Err(e) if matches!(e.status(), Some(404 | 403)) => {
                if e.status() == Some(403) {
                    fetched
                        .problems
                        .push(format!("pipeline {}: test report: {e}", p.id));
                }
                TestReport::default()
            }
            Err(e) => return Err(e),
        };
        for (i, suite) in report.test_suites.iter().enumerate() {
            if suite.test_cases.is_empty()
                || latest
                    .get(suite.name.as_str())
                    .is_some_and(|(j, _)| from_archives.contains(&j.id))
            {
                continue;
            }
            let file = scratch.join(format!("test_report-{i}.xml"));
            let job = latest
                .get(suite.name.as_str())
                .map(|(j, _)| (j.id, j.started_at.as_deref()));
            std::fs::write(&file, junit(suite, p.id, job)).map_err(|e| ApiError::Decode {
                url: String::new(),
                reason: format!("cannot write {}: {e}", file.display()),
            })?;
            let meta = match latest.get(suite.name.as_str()) {
                Some((j, a)) => meta_of(j, *a),
                None => RunMeta {
                    commit: p.sha.clone(),
                    branch: p.git_ref.clone(),
                    provider: Some(PROVIDER.into()),
                    job: Some(suite.name.clone()),
                    run_id: Some(p.id.to_string()),
                    run_attempt: Some(1),
                    started_at: canonical(&p.created_at),
                    url: p.web_url.clone(),
                    ..RunMeta::default()
                },
            };
            let key = RunKey::from_meta(&meta).unwrap_or_default();
            fetched.reports.push((Input::File(file), key, meta));
        }
        Ok(fetched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_report_suite_as_junit() {
        let suite: Suite = serde_json::from_value(serde_json::json!({
            "name": "rspec",
            "test_cases": [
                {"status": "failed", "name": "a <b>", "classname": "spec.a", "execution_time": 1.5,
                 "system_output": "expected 1\u{1}", "stack_trace": "boom & bust"},
                {"status": "success", "name": "c", "classname": "spec.a", "execution_time": 0.1,
                 "system_output": null},
                {"status": "skipped", "name": "d", "classname": "spec.a"}
            ]
        }))
        .unwrap();
        let mut cases = Vec::new();
        flakehound_ingest_parse(
            &junit(&suite, 7, Some((9, Some("2026-01-01T00:00:00Z")))),
            &mut cases,
        );
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[0].0, "a <b>");
        assert_eq!(cases[0].1, flakehound_model::Outcome::Failed);
        assert_eq!(cases[1].1, flakehound_model::Outcome::Passed);
        assert_eq!(cases[2].1, flakehound_model::Outcome::Skipped);
    }

    fn flakehound_ingest_parse(xml: &str, out: &mut Vec<(String, flakehound_model::Outcome)>) {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("r.xml");
        std::fs::write(&f, xml).unwrap();
        let mut store = flakehound_store_sqlite::SqliteStore::in_memory().unwrap();
        let key = RunKey("k".into());
        let s = flakehound_evidence::ingest_runs_unflushed(
            &mut store,
            &[Input::File(f)],
            vec![(key, RunMeta::default())],
            None,
            flakehound_model::RunSource::Ci,
        );
        assert_eq!(s.rejected().count(), 0, "{s:?}");
        use flakehound_store::Store;
        for t in store.test_stats().unwrap() {
            let o = if t.failures > 0 {
                flakehound_model::Outcome::Failed
            } else if t.passes > 0 {
                flakehound_model::Outcome::Passed
            } else {
                flakehound_model::Outcome::Skipped
            };
            out.push((t.name, o));
        }
        out.sort_by_key(|(n, _)| n.clone());
    }

    #[test]
    fn statuses() {
        assert_eq!(conclusion(Some("failed")), "failure");
        assert_eq!(conclusion(Some("canceled")), "cancelled");
    }
}
