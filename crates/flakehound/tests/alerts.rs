//! `flakehound alerts check|test|mute|unmute|log` and `serve --alerts` through the binary, on a
//! real SQLite store built with `ingest`, against a receiver that is down.

use assert_cmd::Command;
use std::path::Path;

fn fh(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("flakehound").unwrap();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("FLAKEHOUND_DB")
        .env_remove("FLAKEHOUND_ALERTS")
        .env_remove("FLAKEHOUND_PROJECT")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env_remove("CI");
    cmd
}

/// Ingests runs `from..to` of two tests; `tests/test_pay.py::test_refund` fails in `fail`.
fn ingest(dir: &Path, from: usize, to: usize, fail: &[usize]) {
    for i in from..to {
        let failure = if fail.contains(&i) {
            r#"<failure message="AssertionError: assert 1 == 3"/>"#
        } else {
            ""
        };
        let ts = format!("2026-11-{:02}T{:02}:00:00Z", 1 + i / 24, i % 24);
        let f = dir.join(format!("r{i}.xml"));
        std::fs::write(
            &f,
            format!(
                r#"<testsuite name="pytest" timestamp="{ts}"><testcase classname="tests.test_pay" name="test_refund" file="tests/test_pay.py" time="0.1">{failure}</testcase><testcase classname="tests.test_ok" name="test_ok" file="tests/test_ok.py" time="0.1"/></testsuite>"#
            ),
        )
        .unwrap();
        fh(dir)
            .args(["--db", "f.db", "--project", "acme/shop", "ingest", "-q"])
            .args([
                "--provider",
                "github-actions",
                "--branch",
                "main",
                "--job",
                "test",
            ])
            .args([
                "--run-id",
                &(100 + i).to_string(),
                "--commit",
                &format!("{:040x}", i + 1),
            ])
            .args(["--timestamp", &ts])
            .arg(&f)
            .assert()
            .success();
    }
}

#[test]
fn check_notifies_each_change_once_and_delivery_failures_do_not_fail_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ingest(d, 0, 60, &[]);
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    std::fs::create_dir_all(d.join(".flakehound")).unwrap();
    std::fs::write(
        d.join(".flakehound/alerts.toml"),
        format!(
            "[channels.ops]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{dead}/hook\"\nretries = 1\n\
             [monitors.uploads_stopped]\nenabled = false\n[monitors.digest]\nenabled = false\n"
        ),
    )
    .unwrap();
    let db = ["--db", "f.db", "--project", "acme/shop"];
    // The first check records the baseline and sends nothing.
    let out = fh(d).args(db).args(["alerts", "check"]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("first check: recorded as the baseline"),
        "{text}"
    );

    ingest(d, 60, 62, &[60]);
    let out = fh(d)
        .args(db)
        .args(["alerts", "check", "--dry-run", "--json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["changes"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["changes"][0]["notification"]["monitor"], "new_flaky");
    assert_eq!(v["changes"][0]["outcomes"][0]["status"], "dry-run");

    // The receiver is down: --strict says so with exit 1, the change is recorded anyway.
    let out = fh(d)
        .args(db)
        .args(["alerts", "check", "--strict"])
        .assert()
        .code(1);
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("tests/test_pay.py::test_refund started failing intermittently"),
        "{text}"
    );
    assert!(text.contains("ops failed after 2 attempts"), "{text}");
    // Once: nothing more to send, exit 0.
    let out = fh(d).args(db).args(["alerts", "check"]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("0 changes of state, 1 subject alarming"),
        "{text}"
    );

    let out = fh(d).args(db).args(["alerts", "log"]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("failed") && text.contains("ops") && text.contains("[2 attempts]"),
        "{text}"
    );

    fh(d)
        .args(db)
        .args([
            "alerts",
            "mute",
            "tests/test_pay.py::test_refund",
            "--for",
            "7d",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "muted tests/test_pay.py::test_refund in acme/shop until",
        ));
    fh(d)
        .args(db)
        .args(["alerts", "log", "--json"])
        .assert()
        .success();
    fh(d)
        .args(db)
        .args(["alerts", "unmute", "tests/test_pay.py::test_refund"])
        .assert()
        .success();
    fh(d)
        .args(db)
        .args(["alerts", "unmute", "tests/test_pay.py::test_refund"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("is not muted"));
    fh(d)
        .args(db)
        .args(["alerts", "mute", "x", "--for", "soon"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("--for \"soon\""));
}

#[test]
fn broken_channels_are_named_by_test_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("alerts.toml"),
        "[channels.ops]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:1/x\"\nsecret_env = \"FLAKEHOUND_TEST_UNSET_SECRET\"\n",
    )
    .unwrap();
    fh(d)
        .env_remove("FLAKEHOUND_TEST_UNSET_SECRET")
        .args(["--db", "f.db", "alerts", "--config", "alerts.toml", "test"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "ops: error: channel `ops`: key `secret_env`: the variable FLAKEHOUND_TEST_UNSET_SECRET is not set",
        ));
    fh(d)
        .env_remove("FLAKEHOUND_TEST_UNSET_SECRET")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "s.db",
            "--alerts",
            "alerts.toml",
        ])
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "alerts.toml: channel `ops`: key `secret_env`",
        ));
    std::fs::write(
        d.join("bad.toml"),
        "[channels.team]\ntype = \"slack\"\nwebhook_url = \"hooks.slack.com/x\"\n",
    )
    .unwrap();
    fh(d)
        .args(["--db", "f.db", "alerts", "--config", "bad.toml", "test"])
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "bad.toml: channel `team`: key `webhook_url`: not a URL",
        ));
}
