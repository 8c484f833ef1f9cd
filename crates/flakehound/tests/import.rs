//! `flakehound import github|gitlab` against the local server answering as GitHub's and
//! GitLab's REST APIs (`flakehound_import::fixture`), then `report`.

use assert_cmd::Command;
use flakehound_import::fixture::{Fixture, Scenario};
use std::path::Path;

fn fh(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("flakehound").unwrap();
    c.current_dir(dir)
        .env("FLAKEHOUND_DB", dir.join("x.db"))
        .env("FLAKEHOUND_PROJECT", "shop")
        .env("GITHUB_TOKEN", "t0ken")
        .env("GITLAB_TOKEN", "t0ken")
        .env("COLUMNS", "200")
        .args(["--color", "never"]);
    c
}

fn github(runs: usize) -> (Fixture, usize) {
    let mut s = Scenario::github(runs);
    s.token = Some("t0ken".into());
    s.page_size = 10;
    let attempts = s.runs.iter().map(|r| r.attempts.len()).sum();
    (Fixture::start(s), attempts)
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn import_github_then_report_ranks_flaky_tests_and_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let (fx, attempts) = github(12);
    let out = fh(dir.path())
        .args([
            "import",
            "github",
            "--repo",
            "acme/shop",
            "--api-url",
            &fx.url,
            "-j",
            "3",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with(&format!(
            "Imported {attempts} run attempts (0 already imported): {attempts} jobs, 15 artifacts, 15 reports, 75 results"
        )),
        "{}",
        stdout(&out)
    );
    // Not a terminal: plain progress lines, and the expired artifact named.
    let err = stderr(&out);
    assert!(err.contains(&format!("{attempts} to import")), "{err}");
    assert!(
        err.contains("warning: run 10005 attempt 1: artifact \"coverage-report\" has expired"),
        "{err}"
    );
    let report = fh(dir.path()).arg("report").output().unwrap();
    assert!(report.status.success(), "{}", stderr(&report));
    let text = stdout(&report);
    assert!(text.contains("app.net::test_fetch_with_retry"), "{text}");
    assert!(text.contains("Jobs: 21 imported"), "{text}");
    assert!(text.contains("CI / test"), "{text}");
    assert!(text.contains("Lint / lint"), "{text}");
    assert!(text.contains("per week lost to flaky jobs"), "{text}");
    // Again: nothing new.
    let again = fh(dir.path())
        .args([
            "import",
            "github",
            "--repo",
            "acme/shop",
            "--api-url",
            &fx.url,
        ])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).starts_with(&format!(
            "Imported 0 run attempts ({attempts} already imported): 0 jobs, 0 artifacts, 0 reports, 0 results"
        )),
        "{}",
        stdout(&again)
    );
    assert_eq!(
        stdout(&fh(dir.path()).arg("report").output().unwrap()),
        text
    );
}

#[test]
fn report_jobs_alone_and_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let (fx, _) = github(20);
    fh(dir.path())
        .args([
            "import",
            "github",
            "--repo",
            "acme/shop",
            "--api-url",
            &fx.url,
            "--json",
        ])
        .assert()
        .success();
    let text = fh(dir.path()).args(["report", "--jobs"]).output().unwrap();
    assert!(text.status.success());
    insta::assert_snapshot!(stdout(&text));
    let json = fh(dir.path())
        .args(["report", "--jobs", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["flaky_jobs"][0]["name"], "test");
    assert_eq!(v["flaky_jobs"][0]["workflow"], "CI");
    assert_eq!(v["flaky_jobs"][0]["flaky_commits"], 5);
    assert_eq!(v["flaky_jobs"][1]["name"], "lint");
    assert_eq!(v["tests"][0]["test"], "app.net::test_fetch_with_retry");
    assert_eq!(v["totals"]["reruns"], 9);
    // Without imported jobs: said so, and an empty JSON report.
    let empty = tempfile::tempdir().unwrap();
    let none = fh(empty.path())
        .args(["report", "--jobs"])
        .output()
        .unwrap();
    assert!(
        stdout(&none).contains("No CI jobs imported"),
        "{}",
        stdout(&none)
    );
}

#[test]
fn import_gitlab_pipelines_with_retried_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scenario::gitlab(6);
    s.token = Some("t0ken".into());
    let fx = Fixture::start(s);
    let out = fh(dir.path())
        .args([
            "import",
            "gitlab",
            "--project",
            "acme/shop",
            "--api-url",
            &fx.gitlab_url(),
        ])
        .args(["--artifacts", "rspec"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // 6 lint + 6 rspec + 2 retried rspec jobs; the rspec archives (8) replace the test report.
    assert!(
        stdout(&out).starts_with(
            "Imported 6 pipelines (0 already imported): 14 jobs, 8 artifacts, 8 reports, 16 results"
        ),
        "{}",
        stdout(&out)
    );
    let report = stdout(&fh(dir.path()).arg("report").output().unwrap());
    assert!(report.contains("spec.cart::adds_items"), "{report}");
    assert!(report.contains("rspec"), "{report}");
    // The store's project is the usual one, not GitLab's `--project`.
    let other = fh(dir.path())
        .args(["--project", "other", "report", "--jobs"])
        .output()
        .unwrap();
    assert!(
        stderr(&other).contains("holds one project: shop"),
        "{}",
        stderr(&other)
    );
}

#[test]
fn bad_flags_and_unreachable_apis_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = fh(dir.path())
        .args([
            "import",
            "github",
            "--repo",
            "shop",
            "--api-url",
            "http://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--repo \"shop\": expected OWNER/NAME"),
        "{}",
        stderr(&out)
    );
    let out = fh(dir.path())
        .args(["import", "github", "--repo", "a/b", "--since", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--since \"soon\""),
        "{}",
        stderr(&out)
    );
    // A server that says the repository is not there.
    let (fx, _) = github(1);
    let out = fh(dir.path())
        .args([
            "import",
            "github",
            "--repo",
            "acme/nope",
            "--api-url",
            &fx.url,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("/repos/acme/nope/actions/runs"), "{err}");
    assert!(err.contains("404"), "{err}");
    assert!(err.contains("run it again to resume"), "{err}");
}

#[test]
fn import_into_postgres_matches_sqlite() {
    let Some(server) = flakehound_testkit::test_postgres() else {
        return;
    };
    let schema = flakehound_testkit::PgSchema::new(&server, "import");
    let dir = tempfile::tempdir().unwrap();
    let (fx, attempts) = github(8);
    let import = |db: &str| {
        fh(dir.path())
            .args(["--db", db, "import", "github", "--repo", "acme/shop"])
            .args(["--api-url", &fx.url, "--json"])
            .output()
            .unwrap()
    };
    let sqlite = dir.path().join("s.db");
    let sqlite = sqlite.to_str().unwrap();
    let pg = schema.url();
    for db in [sqlite, pg.as_str()] {
        let first: serde_json::Value = serde_json::from_slice(&import(db).stdout).unwrap();
        assert_eq!(first["imported"], attempts, "{db}: {first}");
        let again: serde_json::Value = serde_json::from_slice(&import(db).stdout).unwrap();
        assert_eq!(
            (again["imported"].as_u64(), again["already"].as_u64()),
            (Some(0), Some(attempts as u64))
        );
    }
    let jobs = |db: &str| {
        let out = fh(dir.path())
            .args(["--db", db, "report", "--jobs", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(jobs(sqlite), jobs(&pg));
}

#[test]
fn ctrl_c_stops_cleanly_and_the_next_import_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (fx, attempts) = github(30);
    // A rate limit a few units in: the import waits (1–2 s), and Ctrl-C arrives meanwhile.
    fx.rate_limit_at(12);
    let bin = assert_cmd::cargo::cargo_bin("flakehound");
    let child = std::process::Command::new(bin)
        .current_dir(dir.path())
        .env("FLAKEHOUND_DB", dir.path().join("x.db"))
        .env("FLAKEHOUND_PROJECT", "shop")
        .env("GITHUB_TOKEN", "t0ken")
        .args([
            "import",
            "github",
            "--repo",
            "acme/shop",
            "--api-url",
            &fx.url,
            "-j",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while fx.refused() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(fx.refused() > 0, "the rate limit was reached");
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "stopped promptly"
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Stopped; run the same command again to resume"),
        "{text}"
    );
    let done: usize = text
        .strip_prefix("Imported ")
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(done > 0 && done < attempts, "{done} of {attempts}");
    let again = fh(dir.path())
        .args([
            "import",
            "github",
            "--repo",
            "acme/shop",
            "--api-url",
            &fx.url,
        ])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).starts_with(&format!(
            "Imported {} run attempts ({done} already imported)",
            attempts - done
        )),
        "{}",
        stdout(&again)
    );
}
