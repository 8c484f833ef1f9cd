//! Finds the CI run metadata ([`RunMeta`]) for ingested test reports: which commit and branch
//! were tested, by which CI provider, job, run and attempt, on which runner.
//!
//! * [`from_env`] / [`from_process_env`] read a CI provider's environment variables.
//! * [`from_git`] / [`git_root`] ask the local `git` (never failing: errors give empty results).
//! * [`detect`] / [`detect_with_env`] combine both, plus host-name and OS fallbacks.
//! * [`normalize_timestamp`] turns the timestamp spellings found in CI variables and reports
//!   into RFC 3339 UTC.
//!
//! # Environment variables read, per provider
//!
//! Values are trimmed and **empty values count as absent** everywhere. The first provider whose
//! marker is set wins, in the order of this list. A marker "flag" is set when it is non-empty and
//! not `false`/`0`/`no`/`off` (case-insensitive), so `true`, `True` and `1` all count. Branch
//! values are normalised: `refs/heads/x` and `refs/remotes/origin/x` become `x`; other `refs/...`
//! (tags, pull/merge refs) and `HEAD` give no branch. OS values are mapped to
//! [`std::env::consts::OS`] spellings (`Linux` → `linux`, `macOS`/`Darwin` → `macos`,
//! `Windows`/`Windows_NT` → `windows`, anything else lower-cased). Fields not listed for a
//! provider stay `None`; in particular only GitLab gives `started_at` and no provider gives
//! `duration`.
//!
//! ## GitHub Actions — `provider = "github-actions"`, marker flag `GITHUB_ACTIONS`
//!
//! | field | variables |
//! |---|---|
//! | commit | `GITHUB_SHA` (for `pull_request` events this is the merge commit that was tested) |
//! | branch | `GITHUB_HEAD_REF` (PR source branch); else, unless `GITHUB_REF` is a tag or pull ref, `GITHUB_REF_NAME`, else `GITHUB_REF` |
//! | job | `GITHUB_WORKFLOW` + `GITHUB_JOB` as `"{workflow} / {job}"` (either alone when the other is absent) |
//! | run_id | `GITHUB_RUN_ID` |
//! | run_attempt | `GITHUB_RUN_ATTEMPT` |
//! | runner | `RUNNER_NAME` |
//! | os | `RUNNER_OS` |
//! | url | `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID/attempts/$GITHUB_RUN_ATTEMPT` (server defaults to `https://github.com`; `/attempts/N` only when the attempt is known; no url without repository and run id) |
//! | pull_request | `N` from `GITHUB_REF` = `refs/pull/N/merge` (or `/head`) |
//!
//! Matrix legs share `GITHUB_JOB`; they differ only in `runner`/`os`.
//!
//! ## GitLab CI — `"gitlab-ci"`, marker flag `GITLAB_CI`
//!
//! | field | variables |
//! |---|---|
//! | commit | `CI_COMMIT_SHA` |
//! | branch | `CI_MERGE_REQUEST_SOURCE_BRANCH_NAME`; else `CI_COMMIT_REF_NAME` unless `CI_COMMIT_TAG` is set (a tag pipeline has no branch) |
//! | job | `CI_JOB_NAME` |
//! | run_id | `CI_JOB_ID`; `CI_PIPELINE_ID` only when `CI_JOB_ID` is absent |
//! | run_attempt | always `None` |
//! | runner | `CI_RUNNER_DESCRIPTION`, else `CI_RUNNER_ID` |
//! | os | first part of `CI_RUNNER_EXECUTABLE_ARCH` (`linux/amd64` → `linux`; the runner binary's platform) |
//! | started_at | `CI_JOB_STARTED_AT`, through [`normalize_timestamp`] |
//! | url | `CI_JOB_URL` |
//! | pull_request | `CI_MERGE_REQUEST_IID` |
//!
//! **Retries.** A retried GitLab job is a *new job* with a new `CI_JOB_ID` in the same pipeline,
//! and GitLab exposes no retry counter (gitlab-org/gitlab#27589). So every job execution is its
//! own run: `run_id` is the job id and `run_attempt` is unknown (`None`). This keeps
//! (`provider`, `run_id`, `job`, `run_attempt`) distinct for distinct executions, as it is for the
//! other providers (Jenkins and CircleCI also start a new id on re-run); a retry shows up as
//! another run of the same `job` on the same `commit`. The cost is that jobs of one pipeline do
//! not share a `run_id`, and the pipeline id is not recorded (the job url leads to it).
//!
//! ## Buildkite — `"buildkite"`, marker flag `BUILDKITE`
//!
//! | field | variables |
//! |---|---|
//! | commit | `BUILDKITE_COMMIT`, unless it is the literal `HEAD` (builds created without a sha) |
//! | branch | `BUILDKITE_BRANCH`, unless equal to `BUILDKITE_TAG` (a tag build) |
//! | job | `BUILDKITE_LABEL`, else `BUILDKITE_STEP_KEY` |
//! | run_id | `BUILDKITE_BUILD_ID` |
//! | run_attempt | `BUILDKITE_RETRY_COUNT` + 1 |
//! | runner | `BUILDKITE_AGENT_NAME` |
//! | url | `BUILDKITE_BUILD_URL`, with `#$BUILDKITE_JOB_ID` appended when set (Buildkite's job link) |
//! | pull_request | `BUILDKITE_PULL_REQUEST`; `false` means none |
//!
//! ## CircleCI — `"circleci"`, marker flag `CIRCLECI`
//!
//! | field | variables |
//! |---|---|
//! | commit | `CIRCLE_SHA1` |
//! | branch | `CIRCLE_BRANCH` (absent for tag builds) |
//! | job | `CIRCLE_JOB` |
//! | run_id | `CIRCLE_WORKFLOW_ID`, else `CIRCLE_BUILD_NUM` (a re-run gets a new workflow id) |
//! | run_attempt | always `None` |
//! | runner | `node-$CIRCLE_NODE_INDEX`, for parallel jobs only (`CIRCLE_NODE_TOTAL` > 1 or absent); CircleCI has no runner name |
//! | url | `CIRCLE_BUILD_URL` |
//! | pull_request | `CIRCLE_PR_NUMBER` (forks), else the trailing number of `CIRCLE_PULL_REQUEST` (`.../pull/123`) |
//!
//! ## Azure Pipelines — `"azure-pipelines"`, marker flag `TF_BUILD`
//!
//! | field | variables |
//! |---|---|
//! | commit | `BUILD_SOURCEVERSION` (for PRs the merge commit that was tested) |
//! | branch | `SYSTEM_PULLREQUEST_SOURCEBRANCH`; else `BUILD_SOURCEBRANCH` (full ref: keeps `feature/x` whole, tags and PR refs give none); only when that is absent `BUILD_SOURCEBRANCHNAME` (its last path segment) |
//! | job | `SYSTEM_JOBDISPLAYNAME`, else `AGENT_JOBNAME` |
//! | run_id | `BUILD_BUILDID` |
//! | run_attempt | `SYSTEM_JOBATTEMPT` |
//! | runner | `AGENT_NAME` |
//! | os | `AGENT_OS` |
//! | url | `$SYSTEM_COLLECTIONURI/$SYSTEM_TEAMPROJECT/_build/results?buildId=$BUILD_BUILDID` (project percent-encoded) |
//! | pull_request | `SYSTEM_PULLREQUEST_PULLREQUESTNUMBER` (GitHub repos), else `SYSTEM_PULLREQUEST_PULLREQUESTID` (Azure Repos) |
//!
//! ## Jenkins — `"jenkins"`, marker `JENKINS_URL`, or both `BUILD_ID` and `JOB_NAME`
//!
//! | field | variables |
//! |---|---|
//! | commit | `GIT_COMMIT` |
//! | branch | `CHANGE_BRANCH` when `CHANGE_ID` is set (multibranch PR, where `BRANCH_NAME` is `PR-N`); else `BRANCH_NAME` unless equal to `TAG_NAME`; else `GIT_BRANCH` with `origin/` stripped |
//! | job | `JOB_NAME` |
//! | run_id | `BUILD_NUMBER`, else `BUILD_ID` (a rebuild gets a new number; unique per job only) |
//! | run_attempt | always `None` |
//! | runner | `NODE_NAME` |
//! | url | `BUILD_URL` |
//! | pull_request | `CHANGE_ID` |
//!
//! ## Fallbacks in [`detect`]
//!
//! `HOSTNAME` and `COMPUTERNAME` are read (after `/proc/sys/kernel/hostname`) for the runner
//! name; see [`detect_with_env`].

use std::path::Path;
use std::process::{Command, Stdio};

pub use flakehound_model::RunMeta;

mod env;
mod git;
mod project;
mod time;

pub use env::{EnvLookup, from_env, from_process_env};
pub use git::{from_git, git_root, head_time, prefetch};
pub use project::{normalize_remote, project_of};
pub use time::normalize_timestamp;

use env::Env;

/// [`detect_with_env`] with the real process environment.
pub fn detect(dir: &Path) -> RunMeta {
    detect_with_env(dir, &|name| std::env::var(name).ok())
}

/// Best-effort metadata for reports produced in `dir`, reading variables through `env`:
///
/// 1. [`from_env`].
/// 2. When commit or branch is still missing, [`from_git`] on `dir` fills them (via
///    [`RunMeta::fill_from`]). Git's branch is only taken when the CI commit is unknown or equals
///    git's `HEAD`, so a branch is never paired with a different commit.
/// 3. `provider` is `"local"` when no CI provider was detected (even outside a git repository).
/// 4. `runner` falls back to the host name: `/proc/sys/kernel/hostname`, else the `HOSTNAME` or
///    `COMPUTERNAME` variable, else the output of the `hostname` command.
/// 5. `os` falls back to [`std::env::consts::OS`] (the OS this code runs on).
///
/// Never fails or panics; fields that cannot be found stay `None`.
pub fn detect_with_env(dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> RunMeta {
    let mut meta = from_env(env);
    if meta.commit.is_none() || meta.branch.is_none() {
        let mut local = from_git(dir);
        let same_commit = match (&meta.commit, &local.commit) {
            (Some(ci), Some(git)) => ci.eq_ignore_ascii_case(git),
            _ => true,
        };
        if !same_commit {
            local.branch = None;
        }
        meta.fill_from(&local);
    }
    if meta.provider.is_none() {
        meta.provider = Some("local".to_string());
    }
    if meta.runner.is_none() {
        meta.runner = hostname(Env(env));
    }
    if meta.os.is_none() {
        meta.os = Some(std::env::consts::OS.to_string());
    }
    meta
}

/// What this process's surroundings say about reports, kept apart by origin so that a caller
/// can attach each part only to reports it plausibly describes (see `flakehound-evidence`):
/// the CI job's variables describe reports this job produced, the checkout describes reports
/// produced from it, the host describes reports written here.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Surroundings {
    /// [`from_env`]: empty outside CI.
    pub ci: RunMeta,
    /// [`from_git`] of the directory, with its work-tree root and `HEAD`'s committer time.
    pub git: RunMeta,
    pub git_root: Option<std::path::PathBuf>,
    pub head_time: Option<i64>,
    /// `runner` (host name) and `os` of this machine.
    pub host: RunMeta,
}

/// [`Surroundings`] of `dir`, reading variables through `env`. Never fails.
pub fn surroundings_with_env(dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Surroundings {
    let git = from_git(dir);
    Surroundings {
        ci: from_env(env),
        git_root: git.commit.as_ref().and_then(|_| git_root(dir)),
        head_time: git.commit.as_ref().and_then(|_| head_time(dir)),
        git,
        host: RunMeta {
            runner: hostname(Env(env)),
            os: Some(std::env::consts::OS.to_string()),
            ..RunMeta::default()
        },
    }
}

/// [`surroundings_with_env`] with the real process environment.
pub fn surroundings(dir: &Path) -> Surroundings {
    surroundings_with_env(dir, &|name| std::env::var(name).ok())
}

fn hostname(env: Env) -> Option<String> {
    fn clean(s: &str) -> Option<String> {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_string())
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(|h| clean(&h))
        .or_else(|| env.get("HOSTNAME"))
        .or_else(|| env.get("COMPUTERNAME"))
        .or_else(|| {
            let out = Command::new("hostname")
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .ok()?;
            if !out.status.success() {
                return None;
            }
            clean(&String::from_utf8_lossy(&out.stdout))
        })
}

/// The repository's default branch, as the CI or the checkout knows it (for the team server's
/// rule that only uploads of the default branch change the project's CODEOWNERS), first found:
/// `FLAKEHOUND_DEFAULT_BRANCH`; GitLab's `CI_DEFAULT_BRANCH`; Buildkite's
/// `BUILDKITE_PIPELINE_DEFAULT_BRANCH`; GitHub Actions' event payload
/// (`repository.default_branch` of the file `GITHUB_EVENT_PATH` names); git's
/// `refs/remotes/origin/HEAD` (set by `git clone`). `None` when none says.
pub fn default_branch(dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let env = Env(env);
    for name in [
        "FLAKEHOUND_DEFAULT_BRANCH",
        "CI_DEFAULT_BRANCH",
        "BUILDKITE_PIPELINE_DEFAULT_BRANCH",
    ] {
        if let Some(b) = env.get(name) {
            return Some(b);
        }
    }
    if env.flag("GITHUB_ACTIONS") {
        let from_event = env
            .get("GITHUB_EVENT_PATH")
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| {
                v.pointer("/repository/default_branch")
                    .and_then(|b| b.as_str())
                    .map(str::trim)
                    .filter(|b| !b.is_empty())
                    .map(str::to_string)
            });
        if from_event.is_some() {
            return from_event;
        }
    }
    git::origin_head(dir)
}

#[cfg(test)]
mod tests;
