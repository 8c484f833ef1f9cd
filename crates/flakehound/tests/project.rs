//! The resolved context through the binary: `--db` locations (paths, `sqlite://`, PostgreSQL
//! URLs that cannot be reached) and `--project` scoping in one store.

use assert_cmd::Command;
use std::path::Path;

fn fh(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("flakehound").unwrap();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("FLAKEHOUND_DB")
        .env_remove("FLAKEHOUND_PROJECT")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env_remove("CI");
    cmd
}

/// A JUnit report in `dir/name.xml` where `failing` fails and `passing` passes.
fn report(dir: &Path, name: &str, passing: &str, failing: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.xml"));
    std::fs::write(
        &path,
        format!(
            r#"<testsuite name="{name}">
<testcase classname="{name}" name="{passing}" time="0.1"/>
<testcase classname="{name}" name="{failing}" time="0.1"><failure message="boom">boom</failure></testcase>
</testsuite>"#
        ),
    )
    .unwrap();
    path
}

/// Test ids `report --all --json` lists.
fn reported(cmd: &mut Command) -> Vec<String> {
    let out = cmd.args(["report", "--all", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut ids: Vec<String> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn git(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn projects_in_one_store_see_only_their_own_tests() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("shared.db");
    let a = report(tmp.path(), "alpha", "a_pass", "a_fail");
    let b = report(tmp.path(), "beta", "b_pass", "b_fail");
    for (project, file) in [("a", &a), ("b", &b)] {
        fh(tmp.path())
            .arg("--db")
            .arg(&db)
            .args(["ingest", "--project", project])
            .arg(file)
            .assert()
            .success();
    }
    let ids = |project: &str| {
        reported(
            fh(tmp.path())
                .arg("--db")
                .arg(&db)
                .args(["--project", project]),
        )
    };
    assert_eq!(ids("a"), ["alpha::a_fail", "alpha::a_pass"]);
    assert_eq!(ids("b"), ["beta::b_fail", "beta::b_pass"]);
    // The flag after the command's name, and the variable, name the project too.
    let out = fh(tmp.path())
        .arg("--db")
        .arg(&db)
        .env("FLAKEHOUND_PROJECT", "b")
        .args(["report", "--all", "--json", "--project", "a"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .all(|e| e["id"].as_str().unwrap().starts_with("alpha::")),
        "{json:#}"
    );
    assert_eq!(
        reported(
            fh(tmp.path())
                .arg("--db")
                .arg(&db)
                .env("FLAKEHOUND_PROJECT", "b")
        ),
        ["beta::b_fail", "beta::b_pass"]
    );

    // Not named, and the derived project (the directory's name) is not in the store: the
    // store's projects are named, and nothing is shown from the wrong one.
    let out = fh(tmp.path())
        .arg("--db")
        .arg(&db)
        .arg("report")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("several projects") && err.contains("a, b") && err.contains("--project"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // A project named explicitly that the store does not hold is a typo, not an empty report.
    let out = fh(tmp.path())
        .arg("--db")
        .arg(&db)
        .args(["--project", "c", "report"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no project \"c\"") && err.contains("a, b"),
        "{err}"
    );
}

#[test]
fn a_store_with_one_project_works_from_any_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("one.db");
    let here = tmp.path().join("checkout");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&here).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    git(&here, &["init", "-q"]);
    git(
        &here,
        &["remote", "add", "origin", "git@github.com:acme/shop.git"],
    );
    let a = report(&here, "alpha", "a_pass", "a_fail");
    // The first (derived) project claims the fresh store.
    fh(&here)
        .arg("--db")
        .arg(&db)
        .arg("ingest")
        .arg(&a)
        .assert()
        .success();
    {
        use flakehound_store::Store;
        let mut store = flakehound_store_sqlite::SqliteStore::open(&db).unwrap();
        assert_eq!(store.projects().unwrap(), ["github.com/acme/shop"]);
    }
    // Elsewhere (another derived name), the store's only project is used.
    assert_eq!(
        reported(fh(&elsewhere).arg("--db").arg(&db)),
        ["alpha::a_fail", "alpha::a_pass"]
    );
}

#[test]
fn sqlite_urls_name_the_same_file_as_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("u.db");
    let a = report(tmp.path(), "alpha", "a_pass", "a_fail");
    fh(tmp.path())
        .arg("--db")
        .arg(format!("sqlite://{}", db.display()))
        .arg("ingest")
        .arg(&a)
        .assert()
        .success();
    assert!(db.is_file());
    assert_eq!(
        reported(fh(tmp.path()).arg("--db").arg(&db)),
        ["alpha::a_fail", "alpha::a_pass"]
    );
}

#[test]
fn an_unreachable_store_is_one_error_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let a = report(tmp.path(), "alpha", "a_pass", "a_fail");
    // Port 1 on the loopback: nothing listens there.
    let url = "postgres://fh:s3cret@127.0.0.1:1/flaky";
    for args in [
        vec!["report"],
        vec!["ingest", a.to_str().unwrap()],
        vec!["explain", "alpha::a_fail"],
        vec!["notes"],
    ] {
        let out = fh(tmp.path())
            .args(["--db", url])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("flakehound: error: "), "{err}");
        assert!(err.contains("127.0.0.1:1"), "{err}");
        assert!(!err.contains("s3cret"), "the password leaked: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn help_says_where_a_store_can_be() {
    let tmp = tempfile::tempdir().unwrap();
    let out = fh(tmp.path()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("postgres://"), "{help}");
    assert!(help.contains("--project <NAME>"), "{help}");
    let out = fh(tmp.path()).args(["report", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--db <LOCATION>") && help.contains("--project <NAME>"),
        "{help}"
    );
}
