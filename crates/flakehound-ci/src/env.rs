//! CI provider detection from environment variables.

use flakehound_model::RunMeta;

use crate::time::normalize_timestamp;

/// An environment lookup: `Some(value)` for a set variable.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Wraps a lookup so that values are trimmed and empty values count as absent.
#[derive(Clone, Copy)]
pub(crate) struct Env<'a>(pub(crate) EnvLookup<'a>);

impl Env<'_> {
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        let v = (self.0)(name)?;
        let v = v.trim();
        (!v.is_empty()).then(|| v.to_string())
    }

    /// Set to something other than `false`/`0`/`no`/`off` (case-insensitive).
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| {
            !["false", "0", "no", "off"]
                .iter()
                .any(|f| v.eq_ignore_ascii_case(f))
        })
    }
}

/// Reads the CI run metadata from environment variables through `env` (`Some` for a set
/// variable; trimmed, and empty values count as absent).
///
/// The first provider whose marker variable is set wins, checked in this order: GitHub Actions,
/// GitLab CI, Buildkite, CircleCI, Azure Pipelines, Jenkins (Jenkins last because its fallback
/// marker, `BUILD_ID` + `JOB_NAME`, is the weakest). Outside CI the result is
/// [`RunMeta::default()`] (every field `None`, including `provider`). See the crate
/// documentation for the variables read per provider.
pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> RunMeta {
    let env = Env(env);
    if env.flag("GITHUB_ACTIONS") {
        github(env)
    } else if env.flag("GITLAB_CI") {
        gitlab(env)
    } else if env.flag("BUILDKITE") {
        buildkite(env)
    } else if env.flag("CIRCLECI") {
        circleci(env)
    } else if env.flag("TF_BUILD") {
        azure(env)
    } else if env.get("JENKINS_URL").is_some()
        || (env.get("BUILD_ID").is_some() && env.get("JOB_NAME").is_some())
    {
        jenkins(env)
    } else {
        RunMeta::default()
    }
}

/// [`from_env`] over the real process environment (non-UTF-8 values count as absent).
pub fn from_process_env() -> RunMeta {
    from_env(&|name| std::env::var(name).ok())
}

fn provider(name: &str) -> Option<String> {
    Some(name.to_string())
}

fn attempt(raw: Option<String>) -> Option<u32> {
    raw?.parse().ok()
}

/// Normalises a branch name: `refs/heads/x` and `refs/remotes/origin/x` become `x`; any other
/// `refs/...` (tags, pull/merge-request refs) and `HEAD` are not branches and give `None`.
pub(crate) fn normalize_branch(raw: &str) -> Option<String> {
    let s = raw.trim();
    let s = s
        .strip_prefix("refs/heads/")
        .or_else(|| s.strip_prefix("refs/remotes/origin/"))
        .unwrap_or(s);
    if s.is_empty() || s == "HEAD" || s.starts_with("refs/") {
        None
    } else {
        Some(s.to_string())
    }
}

/// Maps provider spellings to [`std::env::consts::OS`] values: `Linux` → `linux`,
/// `macOS`/`Darwin` → `macos`, `Windows`/`Windows_NT` → `windows`; anything else is
/// lower-cased.
pub(crate) fn normalize_os(raw: &str) -> Option<String> {
    let lower = raw.trim().to_ascii_lowercase();
    let os = match lower.as_str() {
        "" => return None,
        "darwin" | "macos" | "osx" | "mac" | "mac os x" => "macos",
        "windows" | "windows_nt" | "win32" | "win64" | "win" => "windows",
        _ => lower.as_str(),
    };
    Some(os.to_string())
}

/// `a / b`, or whichever of the two is present.
fn join_names(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a} / {b}")),
        (a, b) => a.or(b),
    }
}

/// `refs/pull/123/merge` (or `/head`) → `123`.
fn github_pr_from_ref(r: &str) -> Option<String> {
    let rest = r.strip_prefix("refs/pull/")?;
    let num = rest.split('/').next()?;
    (!num.is_empty() && num.bytes().all(|b| b.is_ascii_digit())).then(|| num.to_string())
}

fn github(env: Env) -> RunMeta {
    let git_ref = env.get("GITHUB_REF");
    // A tag or pull ref is not a branch: don't take GITHUB_REF_NAME (`v1.2`, `123/merge`) then.
    let ref_is_branch = git_ref
        .as_deref()
        .is_none_or(|r| !r.starts_with("refs/") || r.starts_with("refs/heads/"));
    let branch = env
        .get("GITHUB_HEAD_REF")
        .and_then(|b| normalize_branch(&b))
        .or_else(|| {
            if !ref_is_branch {
                return None;
            }
            env.get("GITHUB_REF_NAME")
                .and_then(|b| normalize_branch(&b))
                .or_else(|| git_ref.as_deref().and_then(normalize_branch))
        });
    let run_id = env.get("GITHUB_RUN_ID");
    let run_attempt = attempt(env.get("GITHUB_RUN_ATTEMPT"));
    let url = match (env.get("GITHUB_REPOSITORY"), &run_id) {
        (Some(repo), Some(id)) => {
            let server = env
                .get("GITHUB_SERVER_URL")
                .unwrap_or_else(|| "https://github.com".to_string());
            let mut url = format!(
                "{}/{}/actions/runs/{id}",
                server.trim_end_matches('/'),
                repo.trim_matches('/')
            );
            if let Some(n) = run_attempt {
                url.push_str(&format!("/attempts/{n}"));
            }
            Some(url)
        }
        _ => None,
    };
    RunMeta {
        commit: env.get("GITHUB_SHA"),
        branch,
        provider: provider("github-actions"),
        job: join_names(env.get("GITHUB_WORKFLOW"), env.get("GITHUB_JOB")),
        run_id,
        run_attempt,
        runner: env.get("RUNNER_NAME"),
        os: env.get("RUNNER_OS").and_then(|o| normalize_os(&o)),
        started_at: None,
        duration: None,
        url,
        pull_request: git_ref.as_deref().and_then(github_pr_from_ref),
    }
}

fn gitlab(env: Env) -> RunMeta {
    let branch = env
        .get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
        .or_else(|| {
            // For a tag pipeline CI_COMMIT_REF_NAME is the tag name.
            if env.get("CI_COMMIT_TAG").is_some() {
                None
            } else {
                env.get("CI_COMMIT_REF_NAME")
            }
        })
        .and_then(|b| normalize_branch(&b));
    RunMeta {
        commit: env.get("CI_COMMIT_SHA"),
        branch,
        provider: provider("gitlab-ci"),
        job: env.get("CI_JOB_NAME"),
        // A retried job is a new job (new CI_JOB_ID) in the same pipeline and GitLab exposes no
        // retry counter, so each job execution is its own run: run_id = CI_JOB_ID, attempt unknown.
        run_id: env.get("CI_JOB_ID").or_else(|| env.get("CI_PIPELINE_ID")),
        run_attempt: None,
        runner: env
            .get("CI_RUNNER_DESCRIPTION")
            .or_else(|| env.get("CI_RUNNER_ID")),
        // `linux/amd64`: the platform of the runner binary.
        os: env
            .get("CI_RUNNER_EXECUTABLE_ARCH")
            .and_then(|a| normalize_os(a.split('/').next().unwrap_or_default())),
        started_at: env
            .get("CI_JOB_STARTED_AT")
            .and_then(|t| normalize_timestamp(&t)),
        duration: None,
        url: env.get("CI_JOB_URL"),
        pull_request: env.get("CI_MERGE_REQUEST_IID"),
    }
}

fn buildkite(env: Env) -> RunMeta {
    // BUILDKITE_COMMIT is `HEAD` for builds created without a sha.
    let commit = env.get("BUILDKITE_COMMIT").filter(|c| c != "HEAD");
    // For a tag build BUILDKITE_BRANCH is the tag name.
    let tag = env.get("BUILDKITE_TAG");
    let branch = env
        .get("BUILDKITE_BRANCH")
        .filter(|b| tag.as_ref() != Some(b))
        .and_then(|b| normalize_branch(&b));
    let url = env
        .get("BUILDKITE_BUILD_URL")
        .map(|u| match env.get("BUILDKITE_JOB_ID") {
            Some(job) if !u.contains('#') => format!("{u}#{job}"),
            _ => u,
        });
    RunMeta {
        commit,
        branch,
        provider: provider("buildkite"),
        job: env
            .get("BUILDKITE_LABEL")
            .or_else(|| env.get("BUILDKITE_STEP_KEY")),
        run_id: env.get("BUILDKITE_BUILD_ID"),
        run_attempt: attempt(env.get("BUILDKITE_RETRY_COUNT")).and_then(|n: u32| n.checked_add(1)),
        runner: env.get("BUILDKITE_AGENT_NAME"),
        os: None,
        started_at: None,
        duration: None,
        url,
        pull_request: env
            .get("BUILDKITE_PULL_REQUEST")
            .filter(|p| !p.eq_ignore_ascii_case("false")),
    }
}

fn circleci(env: Env) -> RunMeta {
    let pull_request = env.get("CIRCLE_PR_NUMBER").or_else(|| {
        // https://github.com/org/repo/pull/123
        let url = env.get("CIRCLE_PULL_REQUEST")?;
        let last = url.trim_end_matches('/').rsplit('/').next()?;
        (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit())).then(|| last.to_string())
    });
    // Only a parallel job (CIRCLE_NODE_TOTAL > 1, or unknown) gets a node hint as runner name.
    let parallel = env
        .get("CIRCLE_NODE_TOTAL")
        .is_none_or(|t| t.parse::<u32>().map_or(true, |t| t > 1));
    let runner = env
        .get("CIRCLE_NODE_INDEX")
        .filter(|_| parallel)
        .map(|i| format!("node-{i}"));
    RunMeta {
        commit: env.get("CIRCLE_SHA1"),
        branch: env.get("CIRCLE_BRANCH").and_then(|b| normalize_branch(&b)),
        provider: provider("circleci"),
        job: env.get("CIRCLE_JOB"),
        run_id: env
            .get("CIRCLE_WORKFLOW_ID")
            .or_else(|| env.get("CIRCLE_BUILD_NUM")),
        run_attempt: None,
        runner,
        os: None,
        started_at: None,
        duration: None,
        url: env.get("CIRCLE_BUILD_URL"),
        pull_request,
    }
}

fn jenkins(env: Env) -> RunMeta {
    let tag = env.get("TAG_NAME");
    let branch = if env.get("CHANGE_ID").is_some() {
        // Multibranch pull request: BRANCH_NAME is `PR-123`, CHANGE_BRANCH the source branch.
        env.get("CHANGE_BRANCH")
    } else {
        None
    }
    .or_else(|| env.get("BRANCH_NAME").filter(|b| tag.as_ref() != Some(b)))
    .or_else(|| {
        env.get("GIT_BRANCH")
            .map(|b| b.strip_prefix("origin/").map(str::to_string).unwrap_or(b))
    })
    .and_then(|b| normalize_branch(&b));
    RunMeta {
        commit: env.get("GIT_COMMIT"),
        branch,
        provider: provider("jenkins"),
        job: env.get("JOB_NAME"),
        run_id: env.get("BUILD_NUMBER").or_else(|| env.get("BUILD_ID")),
        run_attempt: None,
        runner: env.get("NODE_NAME"),
        os: None,
        started_at: None,
        duration: None,
        url: env.get("BUILD_URL"),
        pull_request: env.get("CHANGE_ID"),
    }
}

/// Percent-encodes one URL path segment (Azure project names may contain spaces).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn azure(env: Env) -> RunMeta {
    let branch = env
        .get("SYSTEM_PULLREQUEST_SOURCEBRANCH")
        .and_then(|b| normalize_branch(&b))
        .or_else(|| match env.get("BUILD_SOURCEBRANCH") {
            // The full ref keeps `feature/x` whole (BUILD_SOURCEBRANCHNAME is only `x`) and
            // tells tags and PR merge refs apart.
            Some(r) => normalize_branch(&r),
            None => env
                .get("BUILD_SOURCEBRANCHNAME")
                .and_then(|b| normalize_branch(&b)),
        });
    let run_id = env.get("BUILD_BUILDID");
    let url = match (
        env.get("SYSTEM_COLLECTIONURI"),
        env.get("SYSTEM_TEAMPROJECT"),
        &run_id,
    ) {
        (Some(base), Some(project), Some(id)) => Some(format!(
            "{}/{}/_build/results?buildId={id}",
            base.trim_end_matches('/'),
            encode_segment(&project)
        )),
        _ => None,
    };
    RunMeta {
        commit: env.get("BUILD_SOURCEVERSION"),
        branch,
        provider: provider("azure-pipelines"),
        job: env
            .get("SYSTEM_JOBDISPLAYNAME")
            .or_else(|| env.get("AGENT_JOBNAME")),
        run_id,
        run_attempt: attempt(env.get("SYSTEM_JOBATTEMPT")),
        runner: env.get("AGENT_NAME"),
        os: env.get("AGENT_OS").and_then(|o| normalize_os(&o)),
        started_at: None,
        duration: None,
        url,
        pull_request: env
            .get("SYSTEM_PULLREQUEST_PULLREQUESTNUMBER")
            .or_else(|| env.get("SYSTEM_PULLREQUEST_PULLREQUESTID")),
    }
}
