use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use super::*;

fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn meta(vars: &[(&str, &str)]) -> RunMeta {
    from_env(&env_of(vars))
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// name, env, expected.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, RunMeta);

fn check(cases: Vec<Case>) {
    for (name, vars, expected) in cases {
        assert_eq!(meta(&vars), expected, "case {name}");
    }
}

#[test]
fn no_ci_is_empty() {
    assert_eq!(meta(&[]), RunMeta::default());
    assert_eq!(
        meta(&[("CI", "true"), ("HOME", "/root")]),
        RunMeta::default()
    );
    // Flags set to false / empty do not count.
    assert_eq!(
        meta(&[
            ("GITHUB_ACTIONS", "false"),
            ("GITLAB_CI", ""),
            ("TF_BUILD", "  ")
        ]),
        RunMeta::default()
    );
}

#[test]
fn github_actions() {
    let base = vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SHA", SHA),
        ("GITHUB_WORKFLOW", "CI"),
        ("GITHUB_JOB", "test"),
        ("GITHUB_RUN_ID", "8123456789"),
        ("GITHUB_RUN_ATTEMPT", "2"),
        ("RUNNER_NAME", "GitHub Actions 12"),
        ("RUNNER_OS", "Linux"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "acme/widgets"),
    ];
    let push = RunMeta {
        commit: s(SHA),
        branch: s("feature/x"),
        provider: s("github-actions"),
        job: s("CI / test"),
        run_id: s("8123456789"),
        run_attempt: Some(2),
        runner: s("GitHub Actions 12"),
        os: s("linux"),
        started_at: None,
        duration: None,
        url: s("https://github.com/acme/widgets/actions/runs/8123456789/attempts/2"),
        pull_request: None,
    };
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = base.clone();
        v.extend_from_slice(extra);
        v
    };
    check(vec![
        (
            "push",
            with(&[
                ("GITHUB_REF", "refs/heads/feature/x"),
                ("GITHUB_REF_NAME", "feature/x"),
                ("GITHUB_HEAD_REF", ""),
            ]),
            push.clone(),
        ),
        (
            "push, only GITHUB_REF",
            with(&[("GITHUB_REF", "refs/heads/feature/x")]),
            push.clone(),
        ),
        (
            "pull request",
            with(&[
                ("GITHUB_REF", "refs/pull/42/merge"),
                ("GITHUB_REF_NAME", "42/merge"),
                ("GITHUB_HEAD_REF", "fix-flake"),
                ("GITHUB_BASE_REF", "main"),
            ]),
            RunMeta {
                branch: s("fix-flake"),
                pull_request: s("42"),
                ..push.clone()
            },
        ),
        (
            "tag",
            with(&[
                ("GITHUB_REF", "refs/tags/v1.2.0"),
                ("GITHUB_REF_NAME", "v1.2.0"),
            ]),
            RunMeta {
                branch: None,
                ..push.clone()
            },
        ),
        (
            "GHES, no attempt, macOS",
            vec![
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_SHA", SHA),
                ("GITHUB_REF_NAME", "main"),
                ("GITHUB_JOB", "build"),
                ("GITHUB_RUN_ID", "77"),
                ("RUNNER_OS", "macOS"),
                ("GITHUB_SERVER_URL", "https://ghe.example.com/"),
                ("GITHUB_REPOSITORY", "org/repo"),
            ],
            RunMeta {
                commit: s(SHA),
                branch: s("main"),
                provider: s("github-actions"),
                job: s("build"),
                run_id: s("77"),
                os: s("macos"),
                url: s("https://ghe.example.com/org/repo/actions/runs/77"),
                ..RunMeta::default()
            },
        ),
        (
            "minimal, default server, bad attempt",
            vec![
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_RUN_ID", "5"),
                ("GITHUB_RUN_ATTEMPT", "x"),
                ("GITHUB_REPOSITORY", "o/r"),
                ("RUNNER_OS", "Windows"),
            ],
            RunMeta {
                provider: s("github-actions"),
                run_id: s("5"),
                os: s("windows"),
                url: s("https://github.com/o/r/actions/runs/5"),
                ..RunMeta::default()
            },
        ),
    ]);
}

#[test]
fn gitlab_ci() {
    let base = vec![
        ("GITLAB_CI", "true"),
        ("CI_COMMIT_SHA", SHA),
        ("CI_COMMIT_REF_NAME", "main"),
        ("CI_JOB_NAME", "rspec 1/3"),
        ("CI_PIPELINE_ID", "1000"),
        ("CI_JOB_ID", "55501"),
        ("CI_RUNNER_DESCRIPTION", "shared-runner-7"),
        ("CI_RUNNER_ID", "12"),
        ("CI_RUNNER_EXECUTABLE_ARCH", "linux/amd64"),
        ("CI_JOB_URL", "https://gitlab.example.com/g/p/-/jobs/55501"),
        ("CI_JOB_STARTED_AT", "2021-04-01T10:52:37Z"),
    ];
    let expected = RunMeta {
        commit: s(SHA),
        branch: s("main"),
        provider: s("gitlab-ci"),
        job: s("rspec 1/3"),
        run_id: s("55501"),
        run_attempt: None,
        runner: s("shared-runner-7"),
        os: s("linux"),
        started_at: s("2021-04-01T10:52:37Z"),
        duration: None,
        url: s("https://gitlab.example.com/g/p/-/jobs/55501"),
        pull_request: None,
    };
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = base.clone();
        v.extend_from_slice(extra);
        v
    };
    check(vec![
        ("branch pipeline", base.clone(), expected.clone()),
        (
            "retried job: new job id, same pipeline",
            with(&[
                ("CI_JOB_ID", "55577"),
                ("CI_JOB_URL", "https://gitlab.example.com/g/p/-/jobs/55577"),
                ("CI_JOB_STARTED_AT", "2021-04-01T11:00:00+02:00"),
            ]),
            RunMeta {
                run_id: s("55577"),
                url: s("https://gitlab.example.com/g/p/-/jobs/55577"),
                started_at: s("2021-04-01T09:00:00Z"),
                ..expected.clone()
            },
        ),
        (
            "merge request",
            with(&[
                ("CI_COMMIT_REF_NAME", "fix-flake"),
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "fix-flake"),
                ("CI_MERGE_REQUEST_IID", "17"),
            ]),
            RunMeta {
                branch: s("fix-flake"),
                pull_request: s("17"),
                ..expected.clone()
            },
        ),
        (
            "tag, runner id only, unparseable start",
            with(&[
                ("CI_COMMIT_REF_NAME", "v2.0"),
                ("CI_COMMIT_TAG", "v2.0"),
                ("CI_RUNNER_DESCRIPTION", ""),
                ("CI_JOB_STARTED_AT", "soon"),
                ("CI_RUNNER_EXECUTABLE_ARCH", "darwin/arm64"),
            ]),
            RunMeta {
                branch: None,
                runner: s("12"),
                started_at: None,
                os: s("macos"),
                ..expected.clone()
            },
        ),
        (
            "no job id: pipeline id",
            vec![("GITLAB_CI", "true"), ("CI_PIPELINE_ID", "1000")],
            RunMeta {
                provider: s("gitlab-ci"),
                run_id: s("1000"),
                ..RunMeta::default()
            },
        ),
    ]);
}

#[test]
fn buildkite() {
    let base = vec![
        ("BUILDKITE", "true"),
        ("BUILDKITE_COMMIT", SHA),
        ("BUILDKITE_BRANCH", "main"),
        ("BUILDKITE_LABEL", ":rust: test"),
        ("BUILDKITE_STEP_KEY", "test"),
        ("BUILDKITE_BUILD_ID", "0190a3b0-aaaa-bbbb-cccc-0123456789ab"),
        ("BUILDKITE_JOB_ID", "0190a3b1-1111-2222-3333-0123456789ab"),
        ("BUILDKITE_RETRY_COUNT", "0"),
        ("BUILDKITE_AGENT_NAME", "agent-3"),
        (
            "BUILDKITE_BUILD_URL",
            "https://buildkite.com/acme/widgets/builds/812",
        ),
        ("BUILDKITE_PULL_REQUEST", "false"),
        ("BUILDKITE_TAG", ""),
    ];
    let expected = RunMeta {
        commit: s(SHA),
        branch: s("main"),
        provider: s("buildkite"),
        job: s(":rust: test"),
        run_id: s("0190a3b0-aaaa-bbbb-cccc-0123456789ab"),
        run_attempt: Some(1),
        runner: s("agent-3"),
        os: None,
        started_at: None,
        duration: None,
        url: s(
            "https://buildkite.com/acme/widgets/builds/812#0190a3b1-1111-2222-3333-0123456789ab",
        ),
        pull_request: None,
    };
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = base.clone();
        v.extend_from_slice(extra);
        v
    };
    check(vec![
        ("first attempt", base.clone(), expected.clone()),
        (
            "retry, PR, step key",
            with(&[
                ("BUILDKITE_RETRY_COUNT", "2"),
                ("BUILDKITE_PULL_REQUEST", "311"),
                ("BUILDKITE_BRANCH", "fix-flake"),
                ("BUILDKITE_LABEL", ""),
            ]),
            RunMeta {
                run_attempt: Some(3),
                pull_request: s("311"),
                branch: s("fix-flake"),
                job: s("test"),
                ..expected.clone()
            },
        ),
        (
            "tag build, commit HEAD, no job id",
            vec![
                ("BUILDKITE", "true"),
                ("BUILDKITE_COMMIT", "HEAD"),
                ("BUILDKITE_BRANCH", "v1.0"),
                ("BUILDKITE_TAG", "v1.0"),
                ("BUILDKITE_BUILD_URL", "https://buildkite.com/a/b/builds/1"),
            ],
            RunMeta {
                provider: s("buildkite"),
                url: s("https://buildkite.com/a/b/builds/1"),
                ..RunMeta::default()
            },
        ),
    ]);
}

#[test]
fn circleci() {
    let base = vec![
        ("CIRCLECI", "true"),
        ("CIRCLE_SHA1", SHA),
        ("CIRCLE_BRANCH", "main"),
        ("CIRCLE_JOB", "test"),
        ("CIRCLE_WORKFLOW_ID", "6f1c-wf"),
        ("CIRCLE_BUILD_NUM", "912"),
        (
            "CIRCLE_BUILD_URL",
            "https://circleci.com/gh/acme/widgets/912",
        ),
        ("CIRCLE_NODE_INDEX", "2"),
        ("CIRCLE_NODE_TOTAL", "4"),
    ];
    let expected = RunMeta {
        commit: s(SHA),
        branch: s("main"),
        provider: s("circleci"),
        job: s("test"),
        run_id: s("6f1c-wf"),
        run_attempt: None,
        runner: s("node-2"),
        os: None,
        started_at: None,
        duration: None,
        url: s("https://circleci.com/gh/acme/widgets/912"),
        pull_request: None,
    };
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = base.clone();
        v.extend_from_slice(extra);
        v
    };
    check(vec![
        ("parallel node", base.clone(), expected.clone()),
        (
            "PR url, no parallelism",
            with(&[
                (
                    "CIRCLE_PULL_REQUEST",
                    "https://github.com/acme/widgets/pull/123",
                ),
                ("CIRCLE_NODE_INDEX", "0"),
                ("CIRCLE_NODE_TOTAL", "1"),
            ]),
            RunMeta {
                pull_request: s("123"),
                runner: None,
                ..expected.clone()
            },
        ),
        (
            "fork PR number wins, build num fallback",
            with(&[
                ("CIRCLE_PR_NUMBER", "99"),
                (
                    "CIRCLE_PULL_REQUEST",
                    "https://github.com/acme/widgets/pull/123",
                ),
                ("CIRCLE_WORKFLOW_ID", ""),
            ]),
            RunMeta {
                pull_request: s("99"),
                run_id: s("912"),
                ..expected.clone()
            },
        ),
    ]);
}

#[test]
fn jenkins() {
    let expected = RunMeta {
        commit: s(SHA),
        branch: s("main"),
        provider: s("jenkins"),
        job: s("widgets/main"),
        run_id: s("57"),
        run_attempt: None,
        runner: s("linux-agent-1"),
        os: None,
        started_at: None,
        duration: None,
        url: s("https://ci.example.com/job/widgets/job/main/57/"),
        pull_request: None,
    };
    check(vec![
        (
            "freestyle with git plugin",
            vec![
                ("JENKINS_URL", "https://ci.example.com/"),
                ("GIT_COMMIT", SHA),
                ("GIT_BRANCH", "origin/main"),
                ("JOB_NAME", "widgets/main"),
                ("BUILD_NUMBER", "57"),
                ("BUILD_ID", "57"),
                ("NODE_NAME", "linux-agent-1"),
                (
                    "BUILD_URL",
                    "https://ci.example.com/job/widgets/job/main/57/",
                ),
            ],
            expected.clone(),
        ),
        (
            "multibranch branch, BRANCH_NAME wins",
            vec![
                ("JENKINS_URL", "https://ci.example.com/"),
                ("GIT_COMMIT", SHA),
                ("GIT_BRANCH", "origin/other"),
                ("BRANCH_NAME", "main"),
                ("JOB_NAME", "widgets/main"),
                ("BUILD_NUMBER", "57"),
                ("NODE_NAME", "linux-agent-1"),
                (
                    "BUILD_URL",
                    "https://ci.example.com/job/widgets/job/main/57/",
                ),
            ],
            expected.clone(),
        ),
        (
            "multibranch PR, marker BUILD_ID + JOB_NAME only",
            vec![
                ("GIT_COMMIT", SHA),
                ("BRANCH_NAME", "PR-5"),
                ("CHANGE_ID", "5"),
                ("CHANGE_BRANCH", "fix-flake"),
                ("JOB_NAME", "widgets/PR-5"),
                ("BUILD_ID", "3"),
            ],
            RunMeta {
                commit: s(SHA),
                branch: s("fix-flake"),
                provider: s("jenkins"),
                job: s("widgets/PR-5"),
                run_id: s("3"),
                pull_request: s("5"),
                ..RunMeta::default()
            },
        ),
        (
            "tag build, refs/remotes GIT_BRANCH ignored for tag",
            vec![
                ("JENKINS_URL", "https://ci.example.com/"),
                ("BRANCH_NAME", "v1.0"),
                ("TAG_NAME", "v1.0"),
                ("GIT_BRANCH", "refs/remotes/origin/release"),
            ],
            RunMeta {
                provider: s("jenkins"),
                branch: s("release"),
                ..RunMeta::default()
            },
        ),
        (
            "only BUILD_ID is not Jenkins",
            vec![("BUILD_ID", "3")],
            RunMeta::default(),
        ),
    ]);
}

#[test]
fn azure_pipelines() {
    let base = vec![
        ("TF_BUILD", "True"),
        ("BUILD_SOURCEVERSION", SHA),
        ("BUILD_SOURCEBRANCH", "refs/heads/feature/x"),
        ("BUILD_SOURCEBRANCHNAME", "x"),
        ("SYSTEM_JOBDISPLAYNAME", "Test Linux"),
        ("AGENT_JOBNAME", "Job"),
        ("BUILD_BUILDID", "4321"),
        ("SYSTEM_JOBATTEMPT", "1"),
        ("AGENT_NAME", "Hosted Agent"),
        ("AGENT_OS", "Windows_NT"),
        ("SYSTEM_COLLECTIONURI", "https://dev.azure.com/acme/"),
        ("SYSTEM_TEAMPROJECT", "My Project"),
    ];
    let expected = RunMeta {
        commit: s(SHA),
        branch: s("feature/x"),
        provider: s("azure-pipelines"),
        job: s("Test Linux"),
        run_id: s("4321"),
        run_attempt: Some(1),
        runner: s("Hosted Agent"),
        os: s("windows"),
        started_at: None,
        duration: None,
        url: s("https://dev.azure.com/acme/My%20Project/_build/results?buildId=4321"),
        pull_request: None,
    };
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = base.clone();
        v.extend_from_slice(extra);
        v
    };
    check(vec![
        ("ci build", base.clone(), expected.clone()),
        (
            "github PR, rerun",
            with(&[
                ("BUILD_SOURCEBRANCH", "refs/pull/8/merge"),
                ("BUILD_SOURCEBRANCHNAME", "merge"),
                ("SYSTEM_PULLREQUEST_SOURCEBRANCH", "fix-flake"),
                ("SYSTEM_PULLREQUEST_PULLREQUESTNUMBER", "8"),
                ("SYSTEM_PULLREQUEST_PULLREQUESTID", "99999"),
                ("SYSTEM_JOBATTEMPT", "3"),
                ("AGENT_OS", "Darwin"),
            ]),
            RunMeta {
                branch: s("fix-flake"),
                pull_request: s("8"),
                run_attempt: Some(3),
                os: s("macos"),
                ..expected.clone()
            },
        ),
        (
            "azure repos PR",
            with(&[
                ("BUILD_SOURCEBRANCH", "refs/pull/8/merge"),
                ("SYSTEM_PULLREQUEST_SOURCEBRANCH", "refs/heads/users/me/fix"),
                ("SYSTEM_PULLREQUEST_PULLREQUESTID", "77"),
            ]),
            RunMeta {
                branch: s("users/me/fix"),
                pull_request: s("77"),
                ..expected.clone()
            },
        ),
        (
            "tag, agent job name",
            with(&[
                ("BUILD_SOURCEBRANCH", "refs/tags/v1"),
                ("BUILD_SOURCEBRANCHNAME", "v1"),
                ("SYSTEM_JOBDISPLAYNAME", ""),
            ]),
            RunMeta {
                branch: None,
                job: s("Job"),
                ..expected.clone()
            },
        ),
        (
            "only short branch name",
            vec![("TF_BUILD", "true"), ("BUILD_SOURCEBRANCHNAME", "main")],
            RunMeta {
                provider: s("azure-pipelines"),
                branch: s("main"),
                ..RunMeta::default()
            },
        ),
    ]);
}

#[test]
fn provider_order_and_empty_values() {
    // GitHub wins over Jenkins-like variables.
    let m = meta(&[
        ("GITHUB_ACTIONS", "true"),
        ("BUILD_ID", "1"),
        ("JOB_NAME", "x"),
    ]);
    assert_eq!(m.provider.as_deref(), Some("github-actions"));
    // Empty values are absent: GITHUB_HEAD_REF = "" falls through to GITHUB_REF_NAME.
    let m = meta(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SHA", ""),
        ("GITHUB_HEAD_REF", ""),
        ("GITHUB_REF_NAME", "main"),
        ("RUNNER_NAME", "   "),
    ]);
    assert_eq!(m.commit, None);
    assert_eq!(m.branch.as_deref(), Some("main"));
    assert_eq!(m.runner, None);
}

#[test]
fn branch_normalisation() {
    use crate::env::normalize_branch as nb;
    assert_eq!(nb("refs/heads/a/b").as_deref(), Some("a/b"));
    assert_eq!(nb("refs/remotes/origin/x").as_deref(), Some("x"));
    assert_eq!(nb("main").as_deref(), Some("main"));
    assert_eq!(nb("refs/tags/v1"), None);
    assert_eq!(nb("refs/pull/1/merge"), None);
    assert_eq!(nb("HEAD"), None);
    assert_eq!(nb(""), None);
}

// ---- git ----

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Flake Hound",
            "-c",
            "user.email=fh@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.hooksPath=/dev/null",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A temp repo with one commit on branch `trunk/work`; returns (dir, sha).
fn temp_repo() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "trunk/work"]);
    git(
        dir.path(),
        &["commit", "-q", "--allow-empty", "-m", "first"],
    );
    let sha = git(dir.path(), &["rev-parse", "HEAD"]);
    (dir, sha)
}

#[test]
fn git_branch_and_commit() {
    let (dir, sha) = temp_repo();
    let sub = dir.path().join("a/b");
    std::fs::create_dir_all(&sub).unwrap();
    for d in [dir.path(), sub.as_path()] {
        assert_eq!(
            from_git(d),
            RunMeta {
                commit: Some(sha.clone()),
                branch: s("trunk/work"),
                provider: s("local"),
                ..RunMeta::default()
            }
        );
    }
    let root = git_root(&sub).expect("root");
    assert_eq!(
        root.canonicalize().unwrap(),
        dir.path().canonicalize().unwrap()
    );
}

#[test]
fn git_detached_head() {
    let (dir, sha) = temp_repo();
    git(dir.path(), &["checkout", "-q", "--detach"]);
    let m = from_git(dir.path());
    assert_eq!(m.commit.as_deref(), Some(sha.as_str()));
    assert_eq!(m.branch, None);
    assert_eq!(m.provider.as_deref(), Some("local"));
}

#[test]
fn git_unborn_branch_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    assert_eq!(from_git(dir.path()), RunMeta::default());
    assert!(git_root(dir.path()).is_some());
}

#[test]
fn not_a_repo() {
    let dir = tempfile::tempdir().unwrap();
    // Guard against a temp dir that happens to sit inside a work tree.
    if git_root(dir.path()).is_some() {
        eprintln!("temp dir is inside a git work tree; skipping");
        return;
    }
    assert_eq!(from_git(dir.path()), RunMeta::default());
    let missing = dir.path().join("does/not/exist");
    assert_eq!(from_git(&missing), RunMeta::default());
    assert_eq!(git_root(&missing), None);
}

#[test]
fn detect_local_repo() {
    let (dir, sha) = temp_repo();
    let m = detect_with_env(dir.path(), &env_of(&[("HOSTNAME", "box-1")]));
    assert_eq!(m.commit.as_deref(), Some(sha.as_str()));
    assert_eq!(m.branch.as_deref(), Some("trunk/work"));
    assert_eq!(m.provider.as_deref(), Some("local"));
    assert_eq!(m.os.as_deref(), Some(std::env::consts::OS));
    assert!(m.runner.is_some());
    assert_eq!((m.job, m.run_id, m.url), (None, None, None));
}

#[test]
fn detect_outside_repo_is_local() {
    let dir = tempfile::tempdir().unwrap();
    if git_root(dir.path()).is_some() {
        return;
    }
    let m = detect_with_env(dir.path(), &env_of(&[]));
    assert_eq!(m.provider.as_deref(), Some("local"));
    assert_eq!((m.commit, m.branch), (None, None));
    assert_eq!(m.os.as_deref(), Some(std::env::consts::OS));
}

#[test]
fn detect_ci_with_git_fallback() {
    let (dir, sha) = temp_repo();
    // GitLab checks out detached with no branch in a tag pipeline; commit matches HEAD, so the
    // git branch is used.
    let env = env_of(&[
        ("GITLAB_CI", "true"),
        ("CI_COMMIT_SHA", &sha),
        ("CI_COMMIT_TAG", "v1"),
        ("CI_COMMIT_REF_NAME", "v1"),
        ("CI_RUNNER_DESCRIPTION", "r1"),
    ]);
    let m = detect_with_env(dir.path(), &env);
    assert_eq!(m.provider.as_deref(), Some("gitlab-ci"));
    assert_eq!(m.commit.as_deref(), Some(sha.as_str()));
    assert_eq!(m.branch.as_deref(), Some("trunk/work"));
    assert_eq!(m.runner.as_deref(), Some("r1"));
    assert_eq!(m.os.as_deref(), Some(std::env::consts::OS));

    // A CI commit different from HEAD: git's branch is not attached to it.
    let env = env_of(&[("BUILDKITE", "true"), ("BUILDKITE_COMMIT", SHA)]);
    let m = detect_with_env(dir.path(), &env);
    assert_eq!(m.provider.as_deref(), Some("buildkite"));
    assert_eq!(m.commit.as_deref(), Some(SHA));
    assert_eq!(m.branch, None);

    // No commit in env: both come from git, provider stays the CI's.
    let env = env_of(&[("JENKINS_URL", "https://ci/"), ("NODE_NAME", "n")]);
    let m = detect_with_env(dir.path(), &env);
    assert_eq!(m.provider.as_deref(), Some("jenkins"));
    assert_eq!(m.commit.as_deref(), Some(sha.as_str()));
    assert_eq!(m.branch.as_deref(), Some("trunk/work"));
}

#[test]
fn process_env_entry_points_do_not_panic() {
    let _ = from_process_env();
    let _ = detect(Path::new("/definitely/not/here"));
}

#[test]
fn default_branch_from_ci_event_or_origin_head() {
    let (dir, _) = temp_repo();
    let none = env_of(&[]);
    assert_eq!(default_branch(dir.path(), &none), None);
    // `git clone` records origin/HEAD.
    git(
        dir.path(),
        &["update-ref", "refs/remotes/origin/trunk", "HEAD"],
    );
    git(
        dir.path(),
        &[
            "symbolic-ref",
            "refs/remotes/origin/HEAD",
            "refs/remotes/origin/trunk",
        ],
    );
    assert_eq!(default_branch(dir.path(), &none).as_deref(), Some("trunk"));
    // GitHub's event payload: the repository's default branch, not the fork's.
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"pull_request": {"head": {"repo": {"default_branch": "fork-main"}}},
            "repository": {"default_branch": "develop"}}"#,
    )
    .unwrap();
    let gh = env_of(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
    ]);
    assert_eq!(default_branch(dir.path(), &gh).as_deref(), Some("develop"));
    let gitlab = env_of(&[("GITLAB_CI", "true"), ("CI_DEFAULT_BRANCH", "main")]);
    assert_eq!(default_branch(dir.path(), &gitlab).as_deref(), Some("main"));
    let ours = env_of(&[
        ("FLAKEHOUND_DEFAULT_BRANCH", " stable "),
        ("CI_DEFAULT_BRANCH", "main"),
    ]);
    assert_eq!(default_branch(dir.path(), &ours).as_deref(), Some("stable"));
}
